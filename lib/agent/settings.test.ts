import { describe, expect, it } from '@jest/globals';

import { UserError } from '../common/errors.js';
import { parseAgentSettings } from './settings.js';

const host = { hostname: 'web-1' };

describe('agent settings', () => {
  it('fills in the documented defaults', () => {
    const settings = parseAgentSettings({ api_url: 'https://turku.example.com/v1', lock_dir: '/run/lock' }, host);
    expect(settings).toEqual({
      api_url: 'https://turku.example.com/v1',
      api_timeout: 30,
      var_dir: '/var/lib/turku-agent',
      lock_dir: '/run/lock',
      unit_name: 'web-1',
      rsyncd_command: ['rsync'],
      rsyncd_local_address: '127.0.0.1',
      rsyncd_user: 'root',
      rsyncd_group: '*',
      ssh_command: ['ssh'],
      ssh_key_type: 'ed25519',
      tunnel_ports: { min: 49152, max: 65535 },
      storage_busy_wait: 1800,
      gonogo_program: null,
      restore_path: '/var/backups/turku-agent/restore',
      restore_module: 'turku-restore',
    });
  });

  it('keeps configured values, allows unknown keys and splits command strings', () => {
    const settings = parseAgentSettings(
      {
        api_url: 'https://x/v1',
        unit_name: 'sql/2',
        environment_name: 'prod',
        service_name: null,
        published: 'false',
        ssh_command: 'ssh -F "/etc/turku agent/ssh_config"',
        rsyncd_command: ['nice', 'rsync'],
        gonogo_program: ['check_load', '-c', '1,5,15'],
        something_new: { nested: true },
      },
      host,
    );
    expect(settings.unit_name).toBe('sql/2');
    expect(settings.environment_name).toBe('prod');
    expect(settings.service_name).toBeUndefined();
    expect(settings.published).toBe(false);
    expect(settings.ssh_command).toEqual(['ssh', '-F', '/etc/turku agent/ssh_config']);
    expect(settings.rsyncd_command).toEqual(['nice', 'rsync']);
    expect(settings.gonogo_program).toEqual(['check_load', '-c', '1,5,15']);
    expect(settings.lock_dir).not.toBe('');
  });

  it.each([
    [{ api_timeout: 'soon' }, /^Invalid configuration: api_timeout: /],
    [{ ssh_command: [] }, /^Invalid configuration: ssh_command: /],
    [{ rsyncd_command: '"unclosed' }, /^Invalid configuration: rsyncd_command: No closing quotation/],
    [{ var_dir: 7 }, /^Invalid configuration: var_dir: /],
  ])('names the key of a bad value: %j', (config, message) => {
    expect(() => parseAgentSettings(config, host)).toThrow(UserError);
    expect(() => parseAgentSettings(config, host)).toThrow(message);
  });
});

test('a tunnel port range must be MIN-MAX within the unprivileged ports', () => {
  expect(() => parseAgentSettings({ tunnel_ports: '65000-64000' }, { hostname: 'h' })).toThrow('tunnel_ports');
  expect(() => parseAgentSettings({ tunnel_ports: '80-90' }, { hostname: 'h' })).toThrow('tunnel_ports');
  expect(parseAgentSettings({ tunnel_ports: '61000-61001' }, { hostname: 'h' }).tunnel_ports).toEqual({
    min: 61000,
    max: 61001,
  });
});
