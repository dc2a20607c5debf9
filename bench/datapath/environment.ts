import { type Finished, run } from '../harness/processes.js';

/**
 * The environment every program the data-path benchmark starts gets: what a systemd unit would
 * give it, never this benchmark's own variables. A shell's variables can cost a measured program
 * dearly (NODE_EXTRA_CA_CERTS makes every Node start read and parse a CA bundle, about 90 ms here),
 * and no unit, cron job or sshd session on an operator's machine would carry them.
 */

export const UNIT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** The variables of a unit without a home; `home` adds HOME (a unit with `User=` and a home directory). */
export function unitEnvironment(home?: string): Record<string, string> {
  return { PATH: UNIT_PATH, LANG: 'C.UTF-8', ...(home === undefined ? {} : { HOME: home }) };
}

export interface UnitOptions {
  /** Run inside this network namespace (`ip netns exec`, itself in the clean environment). */
  readonly netns?: string;
  /** HOME, for tools that keep a cache or settings there (borg, restic). */
  readonly home?: string;
  /** Further variables a unit would set with `Environment=` (a tool's own settings). */
  readonly extra?: Readonly<Record<string, string>>;
  readonly timeoutMs?: number;
}

/** `env -i VAR=... [ip netns exec NS] argv`: the command line that starts `argv` in a unit's environment. */
export function unitArgv(argv: readonly string[], options: UnitOptions = {}): string[] {
  const variables = { ...unitEnvironment(options.home), ...options.extra };
  return [
    'env',
    '-i',
    ...Object.entries(variables).map(([name, value]) => `${name}=${value}`),
    ...(options.netns === undefined ? [] : ['ip', 'netns', 'exec', options.netns]),
    ...argv,
  ];
}

/** Runs `argv` to its end in a unit's environment (see unitArgv), timed from spawn to exit. */
export function runInUnit(argv: readonly string[], options: UnitOptions = {}): Promise<Finished> {
  return run(unitArgv(argv, options), options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs });
}

/** For the results file: what every started program saw, and why. */
export const ENVIRONMENT_NOTE =
  'Every program the benchmark starts (turku-agent-ping and the other Turku programs, the bare rsync and ssh, ' +
  "borg, restic, node -e 0, both sshds and so what they start) runs under `env -i` with a systemd unit's " +
  'variables only (see `environment`): none of the caller’s (NODE_EXTRA_CA_CERTS alone costs every Node start ' +
  'about 90 ms here). HOME is added only for borg and restic (their caches), as a unit with a home would have.';
