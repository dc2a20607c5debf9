/**
 * The periodic jobs of docs/timers.md, "What runs when" and docs/datapath.md, "Programs": which
 * programs run on an agent or a storage machine, and how often. Pure data; render.ts turns it into
 * unit and cron text.
 */

export const ROLES = ['agent', 'storage'] as const;
export type Role = (typeof ROLES)[number];

export interface SystemdSchedule {
  readonly onStartupSec: string;
  readonly onUnitActiveSec: string;
  readonly randomizedDelaySec: string;
}

export interface CronSchedule {
  /** The five time fields. */
  readonly when: string;
  /** Passed as `--wait=N`: the program sleeps uniformly 0…N seconds, spreading the fleet. */
  readonly waitSeconds: number;
}

export interface Job {
  /** The program's name (package.json "bin"), also the name of its systemd units. */
  readonly program: string;
  /** The built program inside this package's dist/ directory. */
  readonly distPath: string;
  readonly description: string;
  /** Said in the timer's description: "every 5 minutes". */
  readonly every: string;
  readonly systemd: SystemdSchedule;
  readonly cron: CronSchedule;
}

export const JOBS: Readonly<Record<Role, readonly Job[]>> = {
  agent: [
    {
      program: 'turku-agent-ping',
      distPath: 'lib/agent/ping-main.js',
      description: 'Turku agent: check in with the API and run the backups that are due',
      every: 'every 5 minutes',
      systemd: { onStartupSec: '15m', onUnitActiveSec: '5m', randomizedDelaySec: '5m' },
      cron: { when: '*/5 * * * *', waitSeconds: 300 },
    },
    {
      program: 'turku-update-config',
      distPath: 'lib/agent/update-config-main.js',
      description: 'Turku agent: register and send the configuration and sources to the API',
      every: 'twice a day',
      systemd: { onStartupSec: '1h', onUnitActiveSec: '12h', randomizedDelaySec: '12h' },
      cron: { when: '0 0,12 * * *', waitSeconds: 7200 },
    },
  ],
  storage: [
    {
      program: 'turku-storage-update-config',
      distPath: 'lib/storage/update-config-main.js',
      description: 'Turku storage: report free space to the API and refresh the authorized SSH keys',
      every: 'every 5 minutes',
      systemd: { onStartupSec: '5m', onUnitActiveSec: '5m', randomizedDelaySec: '5m' },
      cron: { when: '*/5 * * * *', waitSeconds: 300 },
    },
    {
      program: 'turku-storage-sample-verify',
      distPath: 'lib/storage/sample-verify-main.js',
      description: 'Turku storage: verify a sample of the stored snapshots and report it to the API',
      every: 'every hour',
      // Each run spends the share of verify_bytes_per_day its interval earned (docs/datapath.md).
      systemd: { onStartupSec: '30m', onUnitActiveSec: '1h', randomizedDelaySec: '10m' },
      cron: { when: '17 * * * *', waitSeconds: 600 },
    },
  ],
};

/** The file under /etc/cron.d holding a role's cron lines. */
export const CRON_FILE: Readonly<Record<Role, string>> = {
  agent: 'turku-agent',
  storage: 'turku-storage',
};
