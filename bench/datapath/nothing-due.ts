import { listBackups } from '../../lib/api/admin/commands.js';
import { say } from '../harness/lifecycle.js';
import { median, round } from '../harness/stats.js';
import { run } from '../harness/processes.js';
import { check } from './measure.js';
import { type DatapathSettings } from './settings.js';
import { type World } from './world.js';

/** The check-in of a machine with nothing due: the cost every agent pays every few minutes. */

export interface NothingDueResult {
  readonly runs: readonly number[];
  readonly medianSeconds: number;
  /** For scale: the same namespace hop and Node start-up without the check-in. */
  readonly context: {
    readonly ipNetnsExecTrueSeconds: number;
    readonly nodeEmptyScriptSeconds: number;
    readonly pingHelpSeconds: number;
  };
}

export async function benchNothingDue(
  world: World,
  settings: DatapathSettings,
  settle: () => Promise<void>,
): Promise<NothingDueResult> {
  const medianOf = async (argv: string[]): Promise<number> => {
    const times: number[] = [];
    for (let i = 0; i < settings.nothingDueRuns; i++) {
      const finished = await run(argv, { netns: world.netns });
      check(finished, argv.join(' '));
      times.push(finished.seconds);
    }
    return round(median(times), 3);
  };
  await settle();
  const before = (await listBackups(world.api.ctx, 1))[0]?.date;
  await world.ping(); // not timed: the first run after the backups
  const runs: number[] = [];
  for (let i = 0; i < settings.nothingDueRuns; i++) {
    const finished = await world.ping();
    check(finished, 'turku-agent-ping (nothing due)');
    runs.push(round(finished.seconds, 3));
  }
  if ((await listBackups(world.api.ctx, 1))[0]?.date !== before)
    throw new Error('A backup ran during the nothing-due pings');
  say(`\nNothing-due ping: ${runs.join(' s, ')} s`);
  return {
    runs,
    medianSeconds: round(median(runs), 3),
    context: {
      ipNetnsExecTrueSeconds: await medianOf(['true']),
      nodeEmptyScriptSeconds: await medianOf([process.execPath, '-e', '0']),
      pingHelpSeconds: await medianOf([process.execPath, world.agentPingProgram, '--help']),
    },
  };
}
