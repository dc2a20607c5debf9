import type { StorageLogin, StorageVerifyReportRequest } from '../../turku/protocol/api.js';
import type { ApiContext } from '../context.js';
import { ApiRefusal, badRequest } from '../errors.js';
import { loginStorage } from '../login.js';
import { secretTransaction } from '../secret-checks.js';
import type { RequestAfterLogin } from '../validation.js';
import { recordSourceVerify, shownText } from '../verify-reports.js';

/**
 * [NEW] `storage_verify_report` (docs/api.md, "storage_verify_report"): a storage reports the
 * verify of one snapshot of a source it holds. Authenticated as `storage_ping_checkin` is; a
 * storage may report only for machines assigned to it (403 otherwise), and the source must be
 * one of the machine's (400). The latest report per source is kept; the health reads it.
 */

export async function storageVerifyReport(
  ctx: ApiContext,
  login: StorageLogin,
  request: RequestAfterLogin<StorageVerifyReportRequest>,
): Promise<Record<string, never>> {
  const failed = await secretTransaction(ctx.db, async (store, checks) => {
    const now = ctx.now();
    const storage = await loginStorage(store, checks, login.storage);
    const { machine: reported, verify } = request();
    const machine = await store.machineByUuid(reported.uuid);
    // Unknown or someone else's: the same answer, so a storage learns nothing of other storages' machines.
    if (machine === undefined || machine.storage_id !== storage.id) {
      throw new ApiRefusal(403, 'Machine not assigned to this storage');
    }
    const source = (await store.sourcesOfMachine(machine.id)).find((candidate) => candidate.name === verify.source);
    if (source === undefined) throw badRequest(`Validation error: machine has no source "${verify.source}"`);
    await recordSourceVerify(store.queryable, {
      source_id: source.id,
      storage_id: storage.id,
      date: now,
      snapshot: verify.snapshot,
      checked_files: verify.checked_files,
      checked_bytes: verify.checked_bytes,
      complete: verify.complete,
      problem_count: verify.problem_count,
      problems: verify.problems,
    });
    return verify.problem_count > 0 ? `${machine.unit_name} (${machine.uuid})` : undefined;
  });
  if (failed !== undefined) {
    const { verify } = request();
    ctx.log.error(
      `storage ${shownText(login.storage.name ?? '')}: verify of ${failed} source ${shownText(verify.source)} ` +
        `snapshot ${shownText(verify.snapshot)} found ${verify.problem_count} problems`,
    );
  }
  return {};
}
