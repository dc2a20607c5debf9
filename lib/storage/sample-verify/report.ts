import { ApiCallError, createApiClient } from '../../common/api-client.js';
import type { WorkloadLogger } from '../../common/workload-log.js';
import {
  StorageVerifyReportResponse,
  VERIFY_REPORT_LIMITS,
  type StorageVerifyReportRequest,
} from '../../turku/protocol/api.js';
import type { StorageSettings } from '../settings.js';
import type { VerifyOutcome } from '../verify/outcome.js';

/**
 * The periodic verify's report to the API (docs/api.md, "storage_verify_report"): counts and the
 * first few problems (paths, kinds and short details, never a file's contents), each bounded to
 * what the API accepts. An original API does not have the view and answers 404: the storage says
 * so once and keeps verifying, its log then the only record.
 */

export type ReportAnswer = 'sent' | 'unsupported' | 'refused';

export type VerifyReporter = (machine: string, outcome: VerifyOutcome, finishedAt: Date) => Promise<ReportAnswer>;

function bounded(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

export function verifyReportBody(
  settings: Pick<StorageSettings, 'name' | 'secret'>,
  machine: string,
  outcome: VerifyOutcome,
  finishedAt: Date,
): StorageVerifyReportRequest {
  return {
    storage: { name: settings.name, secret: settings.secret },
    machine: { uuid: machine },
    verify: {
      source: outcome.source,
      snapshot: outcome.snapshot,
      checked_files: outcome.checkedFiles,
      checked_bytes: outcome.checkedBytes,
      complete: outcome.complete,
      problem_count: outcome.problems.length,
      problems: outcome.problems.slice(0, VERIFY_REPORT_LIMITS.problems).map((problem) => ({
        path: bounded(problem.path, VERIFY_REPORT_LIMITS.path),
        kind: problem.kind,
        detail: bounded(problem.detail, VERIFY_REPORT_LIMITS.detail),
      })),
      time_end: finishedAt.getTime() / 1000,
    },
  };
}

/** Posts each report; after a 404 (an original API) it posts no more in this run. */
export function createVerifyReporter(settings: StorageSettings, log: WorkloadLogger): VerifyReporter {
  const api = createApiClient({
    url: settings.api_url,
    timeoutSeconds: settings.api_timeout,
    debug: (line) => log.debug(line),
  });
  let unsupported = false;
  return async (machine, outcome, finishedAt) => {
    if (unsupported) return 'unsupported';
    try {
      await api.post(
        'storage_verify_report',
        verifyReportBody(settings, machine, outcome, finishedAt),
        StorageVerifyReportResponse,
      );
      return 'sent';
    } catch (error) {
      if (error instanceof ApiCallError && error.status === 404) {
        unsupported = true;
        log.warning(
          'The API has no storage_verify_report view (an original Turku API?): verify results are kept in this log only',
        );
        return 'unsupported';
      }
      log.error(`Cannot report the verify of ${machine} ${outcome.source}: ${(error as Error).message}`);
      return 'refused';
    }
  };
}
