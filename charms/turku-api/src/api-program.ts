// The real `turku-api` admin commands, run on the unit against its settings file. The charm never
// touches the database itself: the workload's own commands own the schema and the rules.
import { failureLine, type Host, type RunResult } from '../../../lib/charm-host/index.js';
import type { RegistrationType } from '../../../lib/charm-interfaces/index.js';

export type CommandResult<T> =
  { readonly ok: true; readonly value: T } | { readonly ok: false; readonly message: string };

export class ApiProgram {
  constructor(
    private readonly host: Host,
    /** The settings file as this machine sees it (host.path applied). */
    readonly configFile: string,
  ) {}

  /**
   * `turku-api <command> --config FILE [--json] <rest>`: options first, so `rest` may hold `--`
   * before operator-given values that start with a dash.
   */
  run(args: readonly string[], options: { input?: string; json?: boolean } = {}): Promise<RunResult> {
    const [command = 'help', ...rest] = args;
    const argv = this.host.workload.command('turku-api', [
      command,
      '--config',
      this.configFile,
      ...(options.json ? ['--json'] : []),
      ...rest,
    ]);
    return this.host.run(argv, options.input === undefined ? {} : { input: options.input });
  }

  /** A listing or change with `--json`; a refusal (exit 1, 2) is a one-line message. */
  async json<T>(args: readonly string[]): Promise<CommandResult<T>> {
    const result = await this.run(args, { json: true });
    if (result.exitCode !== 0) return { ok: false, message: failureLine(result) };
    try {
      return { ok: true, value: JSON.parse(result.stdout) as T };
    } catch {
      return { ok: false, message: `turku-api ${args[0] ?? ''} printed no JSON` };
    }
  }

  /** Applies the schema migrations; throws one line (the hook fails and Juju retries). */
  async migrate(): Promise<void> {
    const result = await this.run(['migrate']);
    if (result.exitCode !== 0) throw new Error(`turku-api migrate: ${failureLine(result)}`);
  }

  /** Makes the Auth `name` exist with exactly `secret` (given on stdin, never in argv). */
  async ensureAuth(type: RegistrationType, name: string, secret: string): Promise<void> {
    const result = await this.run(
      ['auth-ensure', `--name=${name}`, '--comment=managed by the turku-api charm', '--', type],
      { input: secret },
    );
    if (result.exitCode !== 0) throw new Error(`turku-api auth-ensure ${type} "${name}": ${failureLine(result)}`);
  }

  /** Makes the web console admin `name` exist with exactly `secret` (on stdin, never in argv). */
  async ensureAdmin(name: string, secret: string): Promise<void> {
    const result = await this.run(['auth-ensure', `--name=${name}`, '--', 'admin'], { input: secret });
    if (result.exitCode !== 0) throw new Error(`turku-api auth-ensure admin "${name}": ${failureLine(result)}`);
  }

  /** Deactivates the Auth `name`; one that does not exist is already as good as inactive. */
  async deactivateAuth(name: string): Promise<void> {
    const result = await this.run(['deactivate', '--', 'auth', name]);
    if (result.exitCode === 0 || /no registration credential named/.test(result.stderr)) return;
    throw new Error(`turku-api deactivate auth "${name}": ${failureLine(result)}`);
  }
}
