import {
  borgFailureReason,
  isRsyncDiagnostic,
  rsyncFailureReason,
  rsyncSuccessNote,
  signalName,
} from './failure-reasons.js';

/** Each row: rsync's exit status and its message lines (as rsync 3.2–3.4 prints them), and the reason. */
const RSYNC_CASES: readonly (readonly [string, number, readonly string[], string])[] = [
  [
    'disk full while writing (11)',
    11,
    [
      'rsync: [receiver] write failed on "/srv/turku/m/data/big.bin": No space left on device (28)',
      'rsync error: error in file IO (code 11) at receiver.c(380) [receiver=3.2.7]',
    ],
    'no space left on volume /srv/turku (rsync exit code 11)',
  ],
  [
    'disk full, the receiver then loses the stream (12)',
    12,
    [
      'rsync: [receiver] mkstemp "/srv/turku/m/data/.a.XXXX" failed: No space left on device (28)',
      'rsync error: error in rsync protocol data stream (code 12) at io.c(232) [Receiver=3.2.7]',
    ],
    'no space left on volume /srv/turku (rsync exit code 12)',
  ],
  [
    'disk full as a partial transfer (23)',
    23,
    [
      'rsync: [generator] recv_generator: mkdir "/srv/turku/m/data/x" failed: No space left on device (28)',
      'rsync error: some files/attrs were not transferred (see previous errors) (code 23) at main.c(1338) [generator=3.2.7]',
    ],
    'no space left on volume /srv/turku (rsync exit code 23)',
  ],
  [
    'a quota is a full disk too',
    11,
    ['rsync: [receiver] write failed on "/srv/turku/m/data/f": Disk quota exceeded (122)'],
    'no space left on volume /srv/turku (rsync exit code 11)',
  ],
  [
    'wrong module password (5)',
    5,
    [
      '@ERROR: auth failed on module data',
      'rsync error: error starting client-server protocol (code 5) at main.c(1850) [Receiver=3.2.7]',
    ],
    'agent refused credentials (rsync exit code 5)',
  ],
  [
    'unknown module (5)',
    5,
    ["@ERROR: Unknown module 'data'", 'rsync error: error starting client-server protocol (code 5)'],
    "the agent's rsync daemon refused: Unknown module 'data' (rsync exit code 5)",
  ],
  ['code 5 without a message', 5, [], "could not start the rsync protocol with the agent's daemon (rsync exit code 5)"],
  [
    'unreadable files on the agent (23)',
    23,
    [
      'rsync: [sender] send_files failed to open "/etc/shadow" (in etc): Permission denied (13)',
      'rsync: [sender] send_files failed to open "/etc/gshadow" (in etc): Permission denied (13)',
      'rsync error: some files/attrs were not transferred (see previous errors) (code 23) at main.c(1865) [generator=3.2.7]',
    ],
    'some files could not be read on the agent, the first: "/etc/shadow" (Permission denied) and 1 more (rsync exit code 23)',
  ],
  [
    'a storage-side attribute failure (23)',
    23,
    ['rsync: [generator] failed to set times on "/srv/turku/m/data/x": Operation not permitted (1)'],
    'some files could not be written on the storage, the first: "/srv/turku/m/data/x" (Operation not permitted) (rsync exit code 23)',
  ],
  ['23 without details', 23, [], 'some files could not be transferred (rsync exit code 23)'],
  [
    'connection lost (12)',
    12,
    [
      'rsync: connection unexpectedly closed (1234 bytes received so far) [Receiver]',
      'rsync error: error in rsync protocol data stream (code 12) at io.c(232) [Receiver=3.2.7]',
    ],
    'the connection to the agent was lost: connection unexpectedly closed (1234 bytes received so far) [Receiver] (rsync exit code 12)',
  ],
  ['connection lost (255)', 255, [], 'the connection to the agent was lost (rsync exit code 255)'],
  [
    'tunnel refused (10)',
    10,
    [
      'rsync: failed to connect to 127.0.0.1 (127.0.0.1): Connection refused (111)',
      'rsync error: error in socket IO (code 10) at clientserver.c(139) [Receiver=3.2.7]',
    ],
    "could not reach the agent's rsync daemon through the tunnel: failed to connect to 127.0.0.1 (127.0.0.1): Connection refused (111) (rsync exit code 10)",
  ],
  [
    'timeout (30)',
    30,
    ['rsync error: timeout in data send/receive (code 30)'],
    'timed out waiting for data from the agent (rsync exit code 30)',
  ],
  ['daemon timeout (35)', 35, [], "timed out waiting for the agent's rsync daemon (rsync exit code 35)"],
  ['killed by SIGKILL', -9, [], 'rsync was killed by SIGKILL (rsync exit code -9)'],
  ['killed by SIGTERM', -15, [], 'rsync was killed by SIGTERM (rsync exit code -15)'],
  ['interrupted (20)', 20, [], 'rsync was interrupted (SIGINT, SIGTERM or SIGHUP) (rsync exit code 20)'],
  ['not started', 127, [], 'rsync could not be started (rsync exit code 127)'],
  ['an unknown status', 99, [], 'rsync failed (rsync exit code 99)'],
  [
    'a file I/O error that is not space',
    11,
    ['rsync: [receiver] rename "/srv/turku/m/data/.x.Ab12" -> "x": Read-only file system (30)'],
    'a file could not be read or written on the storage: rename "/srv/turku/m/data/.x.Ab12" -> "x": Read-only file system (30) (rsync exit code 11)',
  ],
];

describe('rsync failures in words', () => {
  test.each(RSYNC_CASES)('%s', (_name, code, diagnostics, reason) => {
    expect(rsyncFailureReason({ code, diagnostics }, '/srv/turku')).toBe(reason);
  });

  test('a vanished file is a success with a note naming the first one', () => {
    const diagnostics = ['file has vanished: "/var/log/a.1" (in logs)', 'file has vanished: "/var/log/b.1" (in logs)'];
    expect(rsyncSuccessNote({ code: 24, diagnostics })).toBe(
      'Note: some files vanished during the transfer, the first: "/var/log/a.1" (rsync exit code 24)\n',
    );
    expect(rsyncSuccessNote({ code: 0, diagnostics: [] })).toBe('');
    expect(rsyncFailureReason({ code: 24, diagnostics: [] }, '/v')).toBe(
      'some files vanished during the transfer (rsync exit code 24)',
    );
  });

  test('quoted details are one printable, bounded line', () => {
    const reason = rsyncFailureReason(
      {
        code: 23,
        diagnostics: [
          `rsync: [sender] send_files failed to open "/a\u001b[31m${'x'.repeat(400)}": Permission denied (13)`,
        ],
      },
      '/v',
    );
    // eslint-disable-next-line no-control-regex
    expect(reason).not.toMatch(/[\u0000-\u001f]/);
    expect(reason.length).toBeLessThan(300);
  });

  test('only rsync’s own lines are diagnostics, not the names it lists', () => {
    expect(isRsyncDiagnostic('rsync: [sender] link_stat "/x" failed')).toBe(true);
    expect(isRsyncDiagnostic('rsync error: timeout in data send/receive (code 30)')).toBe(true);
    expect(isRsyncDiagnostic('@ERROR: auth failed on module data')).toBe(true);
    expect(isRsyncDiagnostic('file has vanished: "/x"')).toBe(true);
    expect(isRsyncDiagnostic('data/No space left on device')).toBe(false);
    expect(isRsyncDiagnostic('sent 1,234 bytes  received 56 bytes')).toBe(false);
  });
});

const BORG_CASES: readonly (readonly [string, string, number, readonly string[], string])[] = [
  [
    'a full disk',
    'create',
    2,
    ['Local Exception', 'OSError: [Errno 28] No space left on device'],
    'no space left on volume /srv/turku (borg create exit code 2)',
  ],
  [
    'the repository check of free space',
    'create',
    2,
    ['Insufficient free space to complete transaction (required: 2.00 GB, available: 1.00 MB).'],
    'no space left on volume /srv/turku (borg create exit code 2)',
  ],
  [
    'a lock held by a live process',
    'create',
    2,
    ['Failed to create/acquire the lock /srv/turku/m/data.borg/lock.exclusive (timeout).'],
    'the borg repository is locked by another process (borg create exit code 2)',
  ],
  [
    'a wrong passphrase',
    'list',
    2,
    ['passphrase supplied in BORG_PASSPHRASE, by BORG_PASSCOMMAND or via BORG_PASSPHRASE_FD is incorrect.'],
    'the borg passphrase is wrong (borg list exit code 2)',
  ],
  [
    'any other error: its last line',
    'init',
    2,
    ['A repository already exists at /srv/turku/m/data.borg.'],
    'borg init failed: A repository already exists at /srv/turku/m/data.borg. (borg init exit code 2)',
  ],
  [
    'warnings',
    'create',
    1,
    ['data/x: file changed while we backed it up'],
    'borg create finished with warnings: data/x: file changed while we backed it up (borg create exit code 1)',
  ],
  [
    'killed (Node reports the signal)',
    'create',
    -9,
    [],
    'borg create was killed by SIGKILL (borg create exit code -9)',
  ],
  [
    'killed (borg reports 128+N)',
    'compact',
    143,
    [],
    'borg compact was killed by SIGTERM (borg compact exit code 143)',
  ],
  ['not started', 'create', 127, [], 'borg could not be started (borg create exit code 127)'],
  ['no output', 'delete', 2, [], 'borg delete failed (borg delete exit code 2)'],
  [
    'a traceback and borg’s platform report',
    'list',
    2,
    [
      'Local Exception',
      'Traceback (most recent call last):',
      '  File "/usr/lib/python3/dist-packages/borg/archiver.py", line 5213, in main',
      '    exit_code = archiver.run(args)',
      'borg.repository.Repository.InvalidRepository: /srv/m/data.borg is not a valid repository. Check repo config.',
      "file: '/srv/m/data.borg/config', line: 1",
      '',
      'Platform: Linux host 6.1.0 #1 SMP x86_64',
      'Borg: 1.2.4  Python: CPython 3.11.2 msgpack: 1.0.3',
      "sys.argv: ['/usr/bin/borg', 'list', '/srv/m/data.borg']",
      'SSH_ORIGINAL_COMMAND: None',
    ],
    'borg list failed: /srv/m/data.borg is not a valid repository. Check repo config. (borg list exit code 2)',
  ],
];

describe('borg failures in words', () => {
  test.each(BORG_CASES)('%s', (_name, subcommand, code, diagnostics, reason) => {
    expect(borgFailureReason(subcommand, { code, diagnostics }, '/srv/turku')).toBe(reason);
  });

  test('signal names', () => {
    expect(signalName(9)).toBe('SIGKILL');
    expect(signalName(99)).toBe('signal 99');
  });
});
