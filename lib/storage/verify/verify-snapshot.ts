import { join } from 'node:path';

import { errorMessage, UserError } from '../../common/errors.js';
import { DamagedManifestError, verifyAgainstManifestText } from '../../common/manifest-file-verify.js';
import type { ManifestHeader } from '../../turku/manifest.js';
import { manifestPath } from '../manifest/files.js';
import { StoredManifestError, storedManifestSource } from '../manifest/stored.js';
import { borgFailure, parseArchiveList, runBorg } from '../snapshots/borg-cli.js';
import { byFinish, LATEST, listCandidates } from '../snapshots/names.js';
import { borgRepo, snapshotsDir } from '../snapshots/paths.js';
import type { SnapshotLog, SnapshotSettings } from '../snapshots/types.js';
import type { VerifyOutcome, VerifyProblem, VerifyRequest, VerifySnapshot } from './outcome.js';

/**
 * The storage's verify of one snapshot (docs/datapath.md, "Manifests and verify"):
 *   link-dest  the snapshot's tree against its manifest: every content, size and metadata change,
 *              missing and extra entry (with `sample`, a random sample of files only);
 *              `no-manifest` when the snapshot has none;
 *   borg       `borg check --verify-data REPO::ARCHIVE`, reading and checking every chunk of the
 *              archive (a `sample` is not possible there: the whole archive is checked).
 * An unknown snapshot (or a source without any) is a UserError.
 */
export function snapshotVerifier(settings: SnapshotSettings, log: SnapshotLog): VerifySnapshot {
  return async (request) => (await verifyInDetail(settings, log, request)).outcome;
}

/** The outcome, and the header of the manifest checked against (link-dest; null without one). */
export interface DetailedVerify {
  readonly outcome: VerifyOutcome;
  readonly manifest: ManifestHeader | null;
}

export async function verifyInDetail(
  settings: SnapshotSettings,
  log: SnapshotLog,
  request: VerifyRequest,
): Promise<DetailedVerify> {
  if (request.mode === 'borg') return { outcome: await verifyBorg(settings, log, request), manifest: null };
  return verifyLinkDest(settings, log, request);
}

async function verifyLinkDest(
  settings: SnapshotSettings,
  log: SnapshotLog,
  request: VerifyRequest,
): Promise<DetailedVerify> {
  const dirs = snapshotsDir(request);
  const candidates = await listCandidates(dirs, { timeZone: settings.timezone, log });
  const chosen =
    request.snapshot === LATEST
      ? candidates.at(-1)
      : candidates.find((c) => c.name === request.snapshot || c.dir === request.snapshot);
  if (chosen === undefined) throw notFound(request, candidates.length);
  const outcome = { source: request.source, snapshot: chosen.name, checkedFiles: 0, checkedBytes: 0 };
  const path = manifestPath(dirs, chosen.dir);
  let verified;
  try {
    const manifest = await storedManifestSource(dirs, chosen.dir);
    verified =
      manifest === null
        ? null
        : await verifyAgainstManifestText(
            join(dirs, chosen.dir),
            manifest,
            request.sample ? { sample: request.sample } : {},
          );
  } catch (error) {
    if (!(error instanceof DamagedManifestError || error instanceof StoredManifestError)) throw error;
    const detail =
      error instanceof StoredManifestError
        ? `${errorMessage(error)} (${path})`
        : `the manifest ${path} is damaged: ${errorMessage(error)}`;
    return {
      outcome: { ...outcome, complete: false, problems: [{ path: '', kind: 'unreadable', detail }] },
      manifest: null,
    };
  }
  if (verified === null) {
    const detail =
      `snapshot ${chosen.name} has no manifest (taken before manifests were recorded, or with manifest off); ` +
      `\`turku-storage-admin manifest MACHINE ${request.source} ${chosen.name}\` records one from it as it is now`;
    return {
      outcome: { ...outcome, complete: false, problems: [{ path: '', kind: 'no-manifest', detail }] },
      manifest: null,
    };
  }
  return { outcome: { ...outcome, ...verified.check }, manifest: verified.header };
}

async function verifyBorg(
  settings: SnapshotSettings,
  log: SnapshotLog,
  request: VerifyRequest,
): Promise<VerifyOutcome> {
  const repo = borgRepo(request);
  let name = request.snapshot;
  if (name === LATEST) {
    const list = await runBorg(settings, 'list', ['--json', repo], { log, json: true });
    if (list.code !== 0) throw new UserError(`${repo}: ${borgFailure(list)}`);
    const newest = parseArchiveList(list.stdout).sort(byFinish).at(-1);
    if (newest === undefined) throw notFound(request, 0);
    name = newest.name;
  }
  const check = await runBorg(settings, 'check', ['--verify-data', `${repo}::${name}`], { log });
  const problems: VerifyProblem[] =
    check.code === 0 ? [] : [{ path: '', kind: 'borg', detail: [borgFailure(check), ...check.diagnostics].join('\n') }];
  return { source: request.source, snapshot: name, checkedFiles: 0, checkedBytes: 0, complete: true, problems };
}

function notFound(request: VerifyRequest, count: number): UserError {
  return count === 0
    ? new UserError(`no snapshots of source "${request.source}"`)
    : new UserError(`snapshot "${request.snapshot}" not found for source "${request.source}"`);
}
