// The query actions (docs/datapath.md, "Queries (our extension of the stdin protocol)"): each runs
// turku-agent-ping with its query flags and --json, and returns the storage's answer.
import { type ActionContext, listingResults } from '../../../lib/charm/index.js';
import type { Host } from '../../../lib/charm-host/index.js';
import { configuredDir } from './actions.js';
import { programError } from './agent-workload.js';
import { MACHINE_PATHS } from './config-files.js';

/** The storage answers within its own time budget (60 s at most per query); ssh and the API add little. */
const QUERY_LIMIT_MS = 10 * 60_000;

export type QueryParams =
  | { readonly kind: 'list-snapshots'; readonly source: string; readonly storage?: string | undefined }
  | {
      readonly kind: 'list-files';
      readonly source: string;
      readonly snapshot: string;
      readonly path?: string | undefined;
      readonly limit: number;
      readonly storage?: string | undefined;
    }
  | {
      readonly kind: 'find';
      readonly source: string;
      readonly pattern: string;
      readonly limit: number;
      readonly storage?: string | undefined;
    };

/** turku-agent-ping's arguments for the query (ping.ts USAGE). */
export function queryArgs(configDir: string, params: QueryParams): string[] {
  const args = ['--config-dir', configDir, `--${params.kind}`, params.source, '--json'];
  if (params.storage !== undefined) args.push('--restore-storage', params.storage);
  if (params.kind === 'list-files') {
    // One argument each (`--path=-x`), so a value starting with "-" is never read as a flag.
    args.push(`--snapshot=${params.snapshot}`, '--limit', String(params.limit));
    if (params.path !== undefined && params.path !== '') args.push(`--path=${params.path}`);
  }
  if (params.kind === 'find') args.push(`--pattern=${params.pattern}`, '--limit', String(params.limit));
  return args;
}

/** Where each query's rows are in the agent's JSON, and the result key they go under. */
const ROWS = { 'list-snapshots': 'snapshots', 'list-files': 'entries', find: 'matches' } as const;

export async function runQueryAction(ctx: ActionContext<unknown>, host: Host, params: QueryParams): Promise<void> {
  const configDir = configuredDir(ctx, host);
  const result = await host.run(host.workload.command('turku-agent-ping', queryArgs(configDir, params)), {
    timeoutMs: QUERY_LIMIT_MS,
  });
  if (result.exitCode !== 0)
    ctx.fail(`${params.kind} of ${params.source} failed: ${programError('turku-agent-ping', result)}`);
  let answer: Record<string, unknown>;
  try {
    answer = JSON.parse(result.stdout) as Record<string, unknown>;
  } catch {
    ctx.fail(`${params.kind} of ${params.source}: turku-agent-ping printed no JSON answer`);
  }
  const key = ROWS[params.kind];
  const rows = Array.isArray(answer[key]) ? (answer[key] as unknown[]) : [];
  const listing = await listingResults(ctx.juju, {
    key,
    listing: rows,
    dir: host.path(MACHINE_PATHS.actionResults),
  });
  const extra: Record<string, string> = {};
  for (const field of ['storage', 'snapshot', 'time', 'path', 'note'] as const) {
    if (typeof answer[field] === 'string') extra[field] = answer[field];
  }
  await ctx.setResults({
    source: params.source,
    count: String(rows.length),
    more: String(typeof answer.more === 'number' ? answer.more : 0),
    complete: String(answer.complete === true),
    ...extra,
    ...listing,
  });
}
