import { UserError } from '../common/errors.js';
import { AgentPingRestoreResponse } from '../turku/protocol/agent-ping.js';
import { parseAnswer, type ParsedAnswer } from '../turku/protocol/queries.js';
import { encodeStdinRequest } from '../turku/protocol/stdin.js';
import { chooseStorage, groupByStorage, type StorageGroup } from './groups.js';
import { lockForRun, registration, sweepAndConnect, type PingContext } from './ping-context.js';
import type { QueryRequest } from './queries-cli.js';
import { answerJson, formatAnswer } from './queries-format.js';
import { runStorageSession, type SessionResult } from './session.js';
import { SSH_FAILURE, sshFailureMessage } from './ssh.js';

/**
 * [NEW] Read-only queries (docs/datapath.md, "Queries (our extension of the stdin protocol)"):
 * the storage that keeps the source answers `list-snapshots`, `list-files` or `find` over the
 * usual SSH session. The request says `action: "restore"` plus the `query` key, so an original
 * storage, which ignores the key, only holds an empty restore session that ends with stdin; no
 * answer header then comes back, and the agent says the storage does not answer queries.
 */

export const QUERIES_UNSUPPORTED = 'this storage does not answer queries (an original Turku storage?)';

/** More than any bounded answer; past it the answer counts as cut short. */
const MAX_ANSWER_BYTES = 64 * 1024 * 1024;

export async function runQuery(context: PingContext, request: QueryRequest): Promise<number> {
  const { settings, io, log } = context;
  const { uuid, secret, apiUrl } = registration(settings);
  // The lock: a check-in starting meanwhile would take this session's files for a killed run's.
  const lock = await lockForRun(settings);
  try {
    const api = await sweepAndConnect(context, lock, apiUrl);
    const response = await api.post('agent_ping_restore', { machine: { uuid, secret } }, AgentPingRestoreResponse);
    const groups = groupByStorage(response.machine.sources, () => true);
    // The storage has the last word on what it keeps: a source the API does not list is asked all the same.
    const keeping = groups.filter((group) => group.sources.includes(request.query.source));
    if (groups.length === 0) throw new UserError('Cannot find any storage for this machine.');
    const group = chooseStorage(keeping.length > 0 ? keeping : groups, request.storage);
    const { result, stdout } = await ask(context, group, request);
    const answer = outcome(result, stdout, group);
    const asked = { storage: group.storage.name };
    io.stdout(request.json ? answerJson(answer, asked) : formatAnswer(answer, asked));
    log.debug(`Query answered by storage ${group.storage.name}`);
    return 0;
  } finally {
    await lock.release();
  }
}

async function ask(
  context: PingContext,
  group: StorageGroup,
  request: QueryRequest,
): Promise<{ result: SessionResult; stdout: string }> {
  const { settings, io, log } = context;
  let stdout = '';
  const result = await runStorageSession({
    settings,
    storage: group.storage,
    // A daemon without modules: the tunnel the protocol needs, serving nothing.
    modules: () => [],
    request: (port) => encodeStdinRequest({ action: 'restore', port, query: request.query }),
    stdin: 'end',
    stop: io.signal,
    onStdout: (text) => {
      if (stdout.length < MAX_ANSWER_BYTES) stdout += text;
    },
    onStderr: (text) => log.debug(`storage: ${text.trimEnd()}`),
    log,
  });
  return { result, stdout };
}

/** The complete answer, or a UserError saying why there is none. */
function outcome(result: SessionResult, stdout: string, group: StorageGroup): ParsedAnswer {
  const name = group.storage.name;
  if (result.stopped) throw new UserError('Interrupted; the query was stopped');
  const answer = parseAnswer(stdout);
  if (answer === undefined) {
    if (result.exitCode === SSH_FAILURE) throw new UserError(sshFailureMessage(group.storage, result.stderr));
    const refused = storageRefusal(result.stderr);
    if (refused !== undefined) throw new UserError(`Storage ${name}: ${refused}`);
    throw new UserError(`Storage ${name}: ${QUERIES_UNSUPPORTED}`);
  }
  if (answer.error !== undefined) throw new UserError(`Storage ${name}: ${answer.error}`);
  if (answer.end === undefined) {
    throw new UserError(
      `Storage ${name}: the answer was cut short (the session ended with ` +
        `${result.signal !== null ? `signal ${result.signal}` : `exit status ${result.exitCode}`})`,
    );
  }
  return answer;
}

/** Our storage refusing the session before any answer (another session of the machine running, say). */
function storageRefusal(stderr: string): string | undefined {
  return stderr
    .split('\n')
    .map((line) => /\] ERROR: (.*)$/.exec(line.trim())?.[1])
    .filter((message) => message !== undefined)
    .at(-1);
}
