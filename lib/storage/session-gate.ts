import { join } from 'node:path';

import { shellQuote } from '../common/shell-quote.js';
import { RESTORE_REMOTE_COMMAND, STORAGE_BUSY_EXIT } from '../turku/protocol/storage-busy.js';
import { backupSlotCount, MAX_RETRY_AFTER_SECONDS, SLOTS_DIRECTORY } from './backup-slots.js';

/**
 * The session gate (docs/datapath.md, "A busy storage"): a few lines of POSIX sh that run before
 * the forced command of every machine key, so that the storage's memory is bounded by its
 * settings. Each session's turku-storage-ping is a Node.js process of tens of MB that only learns
 * once it runs whether a backup slot or a waiting place is free; a burst of agents logging in at
 * once would start one per agent. The gate lets a session start it only while it holds one of
 * `places` advisory locks (`<lock_dir>/turku-storage-backup-slots/gate-<i>.lock`, taken with
 * flock(1) on a descriptor that the program inherits, so the lock lives exactly as long as the
 * program and the children it leaves), and otherwise gives the agent the storage's busy answer
 * itself, without starting Node.
 *
 * Restores take no backup slot, and are not to be refused behind a queue of backups: a session
 * whose client asked for `turku-ping-remote restore` (our agent's restores; sshd passes the
 * client's command as SSH_ORIGINAL_COMMAND) tries `restorePlaces` places of its own first. A
 * client could claim to restore and is then bounded by those places too.
 *
 * The gate makes its directory when it is missing (on a new unit, or after a reboot where the lock
 * directory is a tmpfs such as the default /run/lock), as the ping user, with the mode
 * turku-storage-ping would give it: otherwise every session until the first program had made it
 * would start ungated, just when a whole fleet may log in at once. It fails open: where the
 * directory cannot be made or a lock file opened, or flock(1) fails for another reason than a
 * held lock, the program starts as it would without the gate.
 */

/** Places for sessions beyond the slots and waiting places: one that just ended, one just starting. */
export const GATE_SPARE_PLACES = 2;
export const GATE_RESTORE_PLACES = 2;
/** What the gate suggests before any session has ended, as backup-slots.ts does. */
const FIRST_SESSION_SECONDS = 2;

export interface SessionGate {
  /** `<lock_dir>/turku-storage-backup-slots`. */
  readonly dir: string;
  /** Places for backups: backup slots + waiting places + {@link GATE_SPARE_PLACES}. */
  readonly places: number;
  readonly restorePlaces: number;
  /** The storage's backup slots, told to the agent in the busy answer. */
  readonly slots: number;
  /** Session lengths a refused agent is asked to wait: the waiting places' waves, plus its own. */
  readonly waves: number;
}

export function sessionGate(
  settings: {
    readonly lock_dir: string;
    readonly max_concurrent_backups?: number | undefined;
    readonly max_waiting_backups?: number | undefined;
  },
  cpus?: number,
): SessionGate {
  const slots = backupSlotCount(settings.max_concurrent_backups, cpus);
  const waiting = settings.max_waiting_backups ?? slots;
  return {
    dir: join(settings.lock_dir, SLOTS_DIRECTORY),
    places: slots + waiting + GATE_SPARE_PLACES,
    restorePlaces: GATE_RESTORE_PLACES,
    slots,
    waves: Math.floor(waiting / slots) + 1,
  };
}

/**
 * The sh text that runs `command` behind the gate. `command` is the forced command as configured
 * (a shell command line, with the machine's UUID appended). The text holds double quotes, which an
 * authorized_keys `command="..."` option carries escaped (`\"`).
 */
export function gatedCommand(gate: SessionGate, command: string): string {
  const places = gate.places + gate.restorePlaces;
  // Restore places are numbered first: a restore tries them from 0, a backup starts after them.
  const steps = [
    `g=${shellQuote(gate.dir)}`,
    `i=${gate.restorePlaces}`,
    `case "$SSH_ORIGINAL_COMMAND" in ${shellQuote(RESTORE_REMOTE_COMMAND)}) i=0;; esac`,
    // `[` is built in: mkdir(1) runs only when the directory is missing.
    '[ -d "$g" ] || mkdir -p -m 755 "$g" 2>/dev/null',
    // o: the program may start (a place is held, or the gate cannot work here and stays open).
    'o=',
    `while [ "$i" -lt ${places} ]; do` +
      ` if { command exec 9>>"$g/gate-$i.lock"; } 2>/dev/null; then flock -n -E ${STORAGE_BUSY_EXIT} 9;` +
      ` case $? in ${STORAGE_BUSY_EXIT}) ;; *) o=1; break;; esac; else o=1; break; fi;` +
      ' i=$((i+1)); done',
    'if [ -z "$o" ]; then exec 9>&-' +
      `; s=${FIRST_SESSION_SECONDS}; t=` +
      '; { read -r t < "$g/session-seconds"; } 2>/dev/null' +
      '; t=${t%%.*}' +
      // Whole seconds only, and few digits: sh's arithmetic must not meet anything else.
      '; case "$t" in ""|*[!0-9]*|??????*) ;; *) s=$((t+1));; esac' +
      `; r=$((s*${gate.waves}+$$%s))` +
      `; [ "$r" -le ${MAX_RETRY_AFTER_SECONDS} ] || r=${MAX_RETRY_AFTER_SECONDS}` +
      `; echo "turku-storage: busy, all ${gate.places} session places are taken; try again in $r s" >&2` +
      `; printf 'turku-busy {"version":1,"retry_after":%s,"running":${gate.slots},"limit":${gate.slots}}\\n' "$r"` +
      `; exit ${STORAGE_BUSY_EXIT}; fi`,
    // Last, so that nothing in the configured command can change what the gate does; not `exec`,
    // which would take a leading `NAME=value` for the program's name (bash runs the last command
    // in place anyway; dash stays as its parent).
    command,
  ];
  return steps.join('; ');
}
