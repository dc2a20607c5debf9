import { errorMessage } from '../common/errors.js';
import type { WorkloadLogger } from '../common/workload-log.js';
import { describeExit, lastLine, runProcess, startProblem } from '../common/process.js';
import { shellSplit } from './shell-split.js';

/**
 * The go/no-go check (docs/datapath.md, "A backup, step by step" step 1): a program that may veto
 * this check-in, e.g. when the machine is busy (`check_load -c 1,5,15`). A string is split like a
 * shell would, without expansion and without a shell; a list is used as-is. Its output goes to the
 * debug log.
 */

export type GoNoGoProgram = string | readonly string[] | null | undefined;

/** True to go ahead: no program, or one that exits 0. A failure to run it means no-go. */
export async function goNoGo(program: GoNoGoProgram, log: WorkloadLogger): Promise<boolean> {
  if (program === null || program === undefined) return true;
  let argv: readonly string[];
  try {
    argv = typeof program === 'string' ? shellSplit(program) : program;
  } catch (error) {
    log.debug(`Go/no-go program ${JSON.stringify(program)} cannot be split: ${errorMessage(error)}; not checking in`);
    return false;
  }
  if (argv.length === 0) return true;
  try {
    const result = await runProcess(argv);
    if (result.startError !== undefined) throw new Error(`Cannot run ${argv[0]}: ${startProblem(result.startError)}`);
    for (const line of `${result.stdout}\n${result.stderr}`.split('\n')) {
      if (line.trim() !== '') log.debug(`go/no-go: ${line.trim()}`);
    }
    if (result.exitCode === 0) return true;
    log.debug(
      `Go/no-go program said no (${describeExit(result)}${lastLine(result.stdout) ? `: ${lastLine(result.stdout)}` : ''})`,
    );
    return false;
  } catch (error) {
    log.debug(`Go/no-go program could not run (${errorMessage(error)}); not checking in`);
    return false;
  }
}
