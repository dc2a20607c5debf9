/**
 * The environment the turku-api benchmark gives the API, the bare reference server, the admin
 * commands and wrk: what the charm's systemd unit gives `turku-api serve`, and nothing inherited
 * from the shell that started the benchmark (NODE_EXTRA_CA_CERTS alone costs every Node start 90 ms
 * on some machines; NODE_OPTIONS would change the runtime).
 *
 * The unit the charm writes (lib/charm-host/services.ts, unitText) has no `Environment=` line and
 * passes every setting through `--config FILE`: the process gets systemd's own PATH for system
 * services and the system locale. systemd also sets INVOCATION_ID, JOURNAL_STREAM and
 * SYSTEMD_EXEC_PID, which the API does not read; they are left out.
 */

export const SYSTEMD_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export const SYSTEM_ENV: Readonly<Record<string, string>> = { PATH: SYSTEMD_PATH, LANG: 'C.UTF-8' };

/** The environment with a few extra variables (wrk's script settings), still nothing inherited. */
export function systemEnv(extra: Readonly<Record<string, string>> = {}): Record<string, string> {
  return { ...SYSTEM_ENV, ...extra };
}

export const ENVIRONMENT_NOTE =
  'Every process the benchmark starts (turku-api, the bare server, turku-api auth-create, wrk) gets only these ' +
  'variables, as `env -i` would: the turku-api systemd unit sets no Environment= and reads its settings from ' +
  '--config; nothing from the calling shell (no NODE_EXTRA_CA_CERTS, NODE_OPTIONS) is inherited.';
