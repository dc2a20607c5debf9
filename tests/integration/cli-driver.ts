// The local model driven as a user drives it: every operation is a `turku-local` process (the
// built CLI, lib/substrate/local/cli.ts), run and read by the Juju driver exactly as it runs and
// reads `juju` - action params typed as key=value. Only `exec` goes through the LocalDriver: a
// scenario's scripts address the machine's files under $MACHINE_ROOT, which the Juju driver
// empties for real machines.
import { fileURLToPath } from 'node:url';

import type { ActionOutcome, ExecOutcome, ModelDriver, ModelStatus, WaitOptions } from '../../lib/substrate/driver.js';
import { JujuDriver } from '../../lib/substrate/juju/driver.js';
import type { LocalDriver } from '../../lib/substrate/local/driver.js';

/** The built `turku-local` (package.json bin; npm run pack builds it). */
export const TURKU_LOCAL = fileURLToPath(new URL('../../dist/lib/substrate/local/cli-main.js', import.meta.url));

type Settings = Readonly<Record<string, string | number | boolean>>;

export class TurkuLocalCli implements ModelDriver {
  readonly kind = 'local (turku-local CLI)';
  private readonly cli: JujuDriver;

  constructor(private readonly local: LocalDriver) {
    this.cli = new JujuDriver({ model: local.model, juju: TURKU_LOCAL, paramsAsArguments: true });
  }

  deployBundle(bundle: string, options?: { overlays?: readonly string[] }): Promise<void> {
    return this.cli.deployBundle(bundle, options);
  }
  deploy(charm: string, app: string, options?: { config?: Settings; numUnits?: number }): Promise<void> {
    return this.cli.deploy(charm, app, options);
  }
  integrate(a: string, b: string): Promise<void> {
    return this.cli.integrate(a, b);
  }
  removeRelation(a: string, b: string): Promise<void> {
    return this.cli.removeRelation(a, b);
  }
  addUnit(app: string, count?: number): Promise<string[]> {
    return this.cli.addUnit(app, count);
  }
  removeUnit(unit: string): Promise<void> {
    return this.cli.removeUnit(unit);
  }
  config(app: string, values: Settings): Promise<void> {
    return this.cli.config(app, values);
  }
  runAction(unit: string, action: string, params?: Readonly<Record<string, unknown>>): Promise<ActionOutcome> {
    return this.cli.runAction(unit, action, params);
  }
  exec(unit: string, script: string): Promise<ExecOutcome> {
    return this.local.exec(unit, script);
  }
  status(): Promise<ModelStatus> {
    return this.cli.status();
  }
  waitUntil(predicate: (status: ModelStatus) => boolean, options?: WaitOptions): Promise<ModelStatus> {
    return this.cli.waitUntil(predicate, options);
  }
  destroy(): Promise<void> {
    return this.local.destroy();
  }
}
