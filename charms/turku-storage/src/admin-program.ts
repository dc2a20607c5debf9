// The storage's own `turku-storage-admin`, run on the unit against the storage's configuration.
// The charm never reads or changes snapshots itself: the workload's program owns that, and the
// actions only turn its JSON into results.
import { failureLine, type Host } from '../../../lib/charm-host/index.js';

export type AdminResult<T> =
  | { readonly ok: true; readonly value: T; readonly warnings: readonly LogLine[] }
  | {
      readonly ok: false;
      readonly message: string;
      readonly warnings: readonly LogLine[];
      /** What a refusing command still printed as JSON (verify's problems), if anything. */
      readonly value?: T;
    };

export interface LogLine {
  readonly level: 'warning' | 'error';
  readonly message: string;
}

const PREFIX = 'turku-storage-admin: ';

/** The program's `turku-storage-admin: warning: ...` lines (what its snapshot code logged). */
export function logLinesOf(stderr: string): LogLine[] {
  return stderr.split('\n').flatMap((line) => {
    const match = /^turku-storage-admin: (warning|error): (.*)$/.exec(line.trim());
    return match === null ? [] : [{ level: match[1] as LogLine['level'], message: match[2]! }];
  });
}

export class StorageAdmin {
  constructor(
    private readonly host: Host,
    /** The configuration directory as this machine sees it (host.path applied). */
    readonly configDir: string,
  ) {}

  /**
   * `turku-storage-admin <command> --config-dir DIR --json <rest>`: a refusal (exit 1, 2) is the
   * program's one line, as it printed it.
   */
  async json<T>(command: string, rest: readonly string[]): Promise<AdminResult<T>> {
    const argv = this.host.workload.command('turku-storage-admin', [
      command,
      '--config-dir',
      this.configDir,
      '--json',
      ...rest,
    ]);
    const result = await this.host.run(argv);
    const warnings = logLinesOf(result.stderr);
    if (result.exitCode !== 0) {
      const refused = { ok: false as const, message: failureLine(result), warnings };
      try {
        return { ...refused, value: JSON.parse(result.stdout) as T };
      } catch {
        return refused;
      }
    }
    try {
      return { ok: true, value: JSON.parse(result.stdout) as T, warnings };
    } catch {
      return { ok: false, message: `${PREFIX}${command} printed no JSON`, warnings };
    }
  }
}
