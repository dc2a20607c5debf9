import { join } from 'node:path';

import * as z from 'zod';

import { DEFAULT_AGENT_VAR_DIR } from '../common/config-files.js';
import { UserError } from '../common/errors.js';
import { defaultLockDir } from '../common/lock.js';
import { TUNNEL_PORT_MAX, TUNNEL_PORT_MIN } from '../common/random.js';
import { Flag } from '../turku/protocol/fields.js';
import { formatFirstIssue } from '../turku/protocol/issues.js';
import { shellSplit, ShellSplitError } from './shell-split.js';

/**
 * The agent's merged configuration (docs/datapath.md, "Configuration keys") with its defaults.
 * Unknown keys are no error: the files are shared with the original agent and with whatever the
 * deployment adds.
 */

/** A command as a list, or as a string split like a shell would (without expansion). */
const Command = z.union([z.array(z.string()).min(1), z.string().min(1)]).transform((value, ctx) => {
  if (Array.isArray(value)) return value;
  try {
    const words = shellSplit(value);
    if (words.length > 0) return words;
    ctx.issues.push({ code: 'custom', message: 'must name a program', input: value });
  } catch (error) {
    if (!(error instanceof ShellSplitError)) throw error;
    ctx.issues.push({ code: 'custom', message: error.message, input: value });
  }
  return z.NEVER;
});

const Text = z.string().min(1);
/** Informational names: null or "" count as not set. */
const OptionalName = z
  .string()
  .nullable()
  .optional()
  .transform((value) => (value === null || value === '' ? undefined : value));

// Unknown keys are allowed (and dropped here).
const AgentSettingsSchema = z.object({
  /** Required by turku-update-config; its absence makes turku-agent-ping exit silently. */
  api_url: Text.optional(),
  api_auth_name: Text.optional(),
  api_auth_secret: Text.optional(),
  /** Legacy nameless registration secret. */
  api_auth: Text.optional(),
  api_timeout: z.number().positive().default(30),
  environment_name: OptionalName,
  service_name: OptionalName,
  /** Defaults to the host name, computed at run time and never persisted. */
  unit_name: OptionalName,
  published: Flag.optional(),
  var_dir: Text.default(DEFAULT_AGENT_VAR_DIR),
  lock_dir: Text.optional(),
  rsyncd_command: Command.default(['rsync']),
  rsyncd_local_address: Text.default('127.0.0.1'),
  rsyncd_user: Text.default('root'),
  rsyncd_group: Text.default('*'),
  ssh_command: Command.default(['ssh']),
  /** [NEW] Tunnel ports to draw from, "MIN-MAX" (storages may reserve ports for their own services). */
  tunnel_ports: z
    .string()
    .regex(/^\d+-\d+$/, 'expected "MIN-MAX"')
    .default(`${TUNNEL_PORT_MIN}-${TUNNEL_PORT_MAX}`)
    .transform((text, ctx) => {
      const [min, max] = text.split('-').map(Number) as [number, number];
      if (min < 1024 || max > 65535 || min > max) {
        ctx.issues.push({ code: 'custom', message: 'expected 1024 <= MIN <= MAX <= 65535', input: text });
        return z.NEVER;
      }
      return { min, max };
    }),
  /**
   * [NEW] Seconds a check-in keeps coming back to a busy storage before it gives up until the
   * next ping (docs/datapath.md, "A busy storage"); 0: give up at once.
   */
  storage_busy_wait: z.number().nonnegative().default(1800),
  ssh_key_type: Text.default('ed25519'),
  gonogo_program: z
    .union([z.string(), z.array(z.string())])
    .nullable()
    .default(null),
  restore_path: Text.default('/var/backups/turku-agent/restore'),
  restore_module: Text.default('turku-restore'),
  machine_uuid: Text.optional(),
  machine_secret: Text.optional(),
});

export type AgentSettings = Omit<z.output<typeof AgentSettingsSchema>, 'lock_dir' | 'unit_name'> & {
  readonly lock_dir: string;
  readonly unit_name: string;
};

export interface Derived {
  /** Computed values that depend on the host. */
  readonly hostname: string;
}

/** Validates the merged configuration; a problem is a UserError naming the key. */
export function parseAgentSettings(config: Record<string, unknown>, derived: Derived): AgentSettings {
  const result = AgentSettingsSchema.safeParse(config);
  if (!result.success) throw new UserError(`Invalid configuration: ${formatFirstIssue(result.error)}`);
  const settings = result.data;
  return {
    ...settings,
    lock_dir: settings.lock_dir ?? defaultLockDir(),
    unit_name: settings.unit_name ?? derived.hostname,
  };
}

/** The agent's SSH identity; the key counts as present only when the `.pub` file exists. */
export function sshKeyPath(settings: Pick<AgentSettings, 'var_dir'>): string {
  return join(settings.var_dir, 'ssh_key');
}
