// The small interface the integration scenarios are written against (tests/integration), with two
// implementations: the local substrate (lib/substrate/local, this machine) and a Juju controller
// (lib/substrate/juju, the Juju 3 CLI). Everything a scenario asserts goes through it.

/** One unit as `juju status --format=json` shows it, subordinates flattened in. */
export interface UnitStatus {
  readonly name: string;
  readonly app: string;
  /** workload-status.current: active, blocked, waiting, maintenance, error, unknown, ... */
  readonly workload: string;
  readonly message: string;
  /** juju-status.current: idle, executing, allocating, lost, ... */
  readonly agent: string;
  readonly machine: string;
  /** The principal's public-address for a subordinate. */
  readonly address: string;
  readonly leader: boolean;
  /** The principal unit a subordinate runs beside; undefined for principals. */
  readonly principal?: string;
}

export interface ApplicationStatus {
  readonly name: string;
  readonly charm: string;
  readonly status: string;
  readonly message: string;
  /** Principal applications a subordinate is attached to (`subordinate-to`). */
  readonly subordinateTo: readonly string[];
  /** endpoint -> related application names (both of Juju's shapes read into one). */
  readonly relations: Readonly<Record<string, readonly string[]>>;
}

export interface ModelStatus {
  readonly model: string;
  readonly applications: Readonly<Record<string, ApplicationStatus>>;
  /** Every unit, subordinates included, by name. */
  readonly units: Readonly<Record<string, UnitStatus>>;
}

/** An action's outcome (`juju run ... --format json`, one unit's entry). */
export interface ActionOutcome {
  /** completed | failed | cancelled | aborted | error */
  readonly status: string;
  readonly message: string;
  /** action-set values; dotted keys nested, as Juju returns them (return-code etc. removed). */
  readonly results: Readonly<Record<string, unknown>>;
}

export interface ExecOutcome {
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface WaitOptions {
  /** The predicate must hold on this many polls in a row (default 3, as Jubilant). */
  readonly successes?: number;
  /** Between polls (default 1 s). */
  readonly intervalMs?: number;
  /** Give up after this long (default 10 minutes). */
  readonly timeoutMs?: number;
  /** What is being waited for, for the timeout message. */
  readonly what?: string;
}

export interface ModelDriver {
  /** `local` or `juju`, for messages. */
  readonly kind: string;
  /** Deploys a bundle file (charm paths relative to it), with overlays applied in order. */
  deployBundle(bundle: string, options?: { overlays?: readonly string[] }): Promise<void>;
  /** Deploys one charm (a `.charm` path, or a name the driver knows) as `app`. */
  deploy(
    charm: string,
    app: string,
    options?: { config?: Readonly<Record<string, string | number | boolean>>; numUnits?: number },
  ): Promise<void>;
  integrate(a: string, b: string): Promise<void>;
  removeRelation(a: string, b: string): Promise<void>;
  /** Adds units (with the application's storage directives) and returns their names. */
  addUnit(app: string, count?: number): Promise<string[]>;
  removeUnit(unit: string): Promise<void>;
  config(app: string, values: Readonly<Record<string, string | number | boolean>>): Promise<void>;
  /** Runs an action and waits for it; a failed action is an outcome, not an exception. */
  runAction(unit: string, action: string, params?: Readonly<Record<string, unknown>>): Promise<ActionOutcome>;
  /**
   * Runs `sh -c script` as root on the unit's machine. `$MACHINE_ROOT` is the prefix of the
   * machine's paths: empty on a real machine, the machine's root directory on the local substrate,
   * so one script (`cat "$MACHINE_ROOT/etc/turku-agent/..."`) serves both.
   */
  exec(unit: string, script: string): Promise<ExecOutcome>;
  status(): Promise<ModelStatus>;
  /** Polls status() until `predicate` held `successes` times in a row; throws at once on a unit in error. */
  waitUntil(predicate: (status: ModelStatus) => boolean, options?: WaitOptions): Promise<ModelStatus>;
  /** Removes everything the driver created. */
  destroy(): Promise<void>;
}

/** Units of `app`, subordinates included, sorted by number. */
export function unitsOf(status: ModelStatus, app: string): UnitStatus[] {
  return Object.values(status.units)
    .filter((unit) => unit.app === app)
    .sort((a, b) => Number(a.name.split('/')[1]) - Number(b.name.split('/')[1]));
}

/** Every unit of the given applications (all when none given) is active. */
export function allActive(status: ModelStatus, apps?: readonly string[]): boolean {
  const units = Object.values(status.units).filter((unit) => apps === undefined || apps.includes(unit.app));
  return units.length > 0 && units.every((unit) => unit.workload === 'active');
}

/** Runs an action that must complete, and returns its results. */
export async function completedAction(
  driver: ModelDriver,
  unit: string,
  name: string,
  params: Readonly<Record<string, unknown>> = {},
): Promise<Record<string, unknown>> {
  const outcome = await driver.runAction(unit, name, params);
  if (outcome.status !== 'completed') throw new Error(`${name} on ${unit}: ${outcome.status}: ${outcome.message}`);
  return { ...outcome.results };
}

/** An action result holding JSON text (the charms return lists that way). */
export function jsonResult<T>(results: Readonly<Record<string, unknown>>, key: string): T {
  const value = results[key];
  if (typeof value !== 'string') throw new Error(`action result ${key} is not JSON text: ${JSON.stringify(value)}`);
  return JSON.parse(value) as T;
}
