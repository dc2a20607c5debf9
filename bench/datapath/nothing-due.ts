import { listBackups } from '../../lib/api/admin/commands.js';
import { say } from '../harness/lifecycle.js';
import { median, round } from '../harness/stats.js';
import { runInUnit } from './environment.js';
import { check } from './measure.js';
import { type DatapathSettings } from './settings.js';
import { type World } from './world.js';

/**
 * The check-in of a machine with nothing due: the cost every agent pays every few minutes, against
 * `node -e 0` (the same Node, the same namespace, the same unit environment), the two taken in
 * turns so that both see the same machine.
 */

export interface NothingDueResult {
  readonly runs: readonly number[];
  readonly medianSeconds: number;
  /** `node -e 0`, one run after each ping: the reference of the target. */
  readonly nodeEmptyScriptRuns: readonly number[];
  readonly nodeEmptyScriptMedianSeconds: number;
  /** ping / node -e 0, of the medians */
  readonly ratioNode: number;
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
  const timeOnce = async (argv: string[]): Promise<number> => {
    const finished = await runInUnit(argv, { netns: world.netns });
    check(finished, argv.join(' '));
    return round(finished.seconds, 3);
  };
  const medianOf = async (argv: string[]): Promise<number> => {
    const times: number[] = [];
    for (let i = 0; i < settings.nothingDueRuns; i++) times.push(await timeOnce(argv));
    return round(median(times), 3);
  };
  const nodeEmpty = [process.execPath, '-e', '0'];
  await settle();
  const before = (await listBackups(world.api.ctx, 1))[0]?.date;
  await world.ping(); // not timed: the first run after the backups
  await timeOnce(nodeEmpty);
  const runs: number[] = [];
  const nodeRuns: number[] = [];
  for (let i = 0; i < settings.nothingDueRuns; i++) {
    const finished = await world.ping();
    check(finished, 'turku-agent-ping (nothing due)');
    runs.push(round(finished.seconds, 3));
    nodeRuns.push(await timeOnce(nodeEmpty));
  }
  if ((await listBackups(world.api.ctx, 1))[0]?.date !== before)
    throw new Error('A backup ran during the nothing-due pings');
  say(`\nNothing-due ping: ${runs.join(' s, ')} s`);
  say(`node -e 0:        ${nodeRuns.join(' s, ')} s`);
  const medianSeconds = round(median(runs), 3);
  const nodeMedian = round(median(nodeRuns), 3);
  return {
    runs,
    medianSeconds,
    nodeEmptyScriptRuns: nodeRuns,
    nodeEmptyScriptMedianSeconds: nodeMedian,
    ratioNode: round(medianSeconds / nodeMedian, 2),
    context: {
      ipNetnsExecTrueSeconds: await medianOf(['true']),
      nodeEmptyScriptSeconds: nodeMedian,
      pingHelpSeconds: await medianOf([process.execPath, world.agentPingProgram, '--help']),
    },
  };
}
