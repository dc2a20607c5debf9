// Jest runs TypeScript through ts-jest as native ES modules (so ESM-only packages such as execa
// load as they are); the npm scripts start node with --experimental-vm-modules for that.
import { dirname } from 'node:path';

// The project runs on Node.js 24 (node:sqlite), installed by `npm ci` as node_modules/.bin/node,
// which npm scripts put first on PATH. Started with another Node (the machine's own, from a
// shell), the tests would fail in puzzling places: stop here with the way to run them instead.
const major = Number(process.versions.node.split('.')[0]);
if (major < 24) {
  throw new Error(
    `jest runs on Node.js ${process.versions.node}, the project needs 24: run the tests through npm ` +
      '(npm test, npm run jest -- <paths>) or with node_modules/.bin/node (npm ci installs it)',
  );
}
// Programs the tests start by name (`node ...`, sshd forced commands) get this same Node.
process.env.PATH = `${dirname(process.execPath)}:${process.env.PATH ?? ''}`;
// Tests never download: packing Node.js builds uses node_modules and the cache scripts/setup fills.
process.env.TURKU_NODE_OFFLINE = '1';

const tsJest = ['ts-jest', { useESM: true, tsconfig: 'tsconfig.json', diagnostics: { ignoreCodes: ['TS151001'] } }];

const common = {
  extensionsToTreatAsEsm: ['.ts'],
  transform: { '^.+\\.ts$': tsJest },
  // Sources import siblings as "./x.js" (NodeNext); map those back to the .ts files.
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  testEnvironment: 'node',
};

// Where the tests live (docs/development.md, "Tests"): unit tests beside their module (lib/**, charms/**) and in
// tests/unit/ run without root and without daemons; tests that start real sshd, network namespaces, PostgreSQL,
// mounts or root-only rsync daemons are end-to-end tests, in tests/e2e/ or named *.e2e.test.ts beside their module.
const E2E_NAME = '\\.e2e\\.test\\.ts$';

export default {
  // A test without its own deadline (tests/support/e2e-setup.ts gives e2e tests a longer one): the unit
  // tests that use a real PostgreSQL or start programs took over 5 s (jest's default) on a busy CI machine.
  testTimeout: 30_000,
  projects: [
    {
      ...common,
      displayName: 'unit',
      testMatch: ['<rootDir>/lib/**/*.test.ts', '<rootDir>/charms/**/*.test.ts', '<rootDir>/tests/unit/**/*.test.ts'],
      testPathIgnorePatterns: ['/node_modules/', E2E_NAME],
      // A unit test that starts sshd, mount, ip netns and the like fails at once, naming where it belongs.
      setupFiles: ['<rootDir>/tests/support/unit-guard.ts'],
    },
    {
      ...common,
      displayName: 'e2e',
      testMatch: [
        '<rootDir>/tests/e2e/**/*.test.ts',
        '<rootDir>/lib/**/*.e2e.test.ts',
        '<rootDir>/charms/**/*.e2e.test.ts',
      ],
      // A test without its own deadline gets a generous one: real processes start slowly on a busy machine.
      setupFilesAfterEnv: ['<rootDir>/tests/support/e2e-setup.ts'],
    },
    {
      // Real LXD system containers (lib/substrate/lxd): root, LXD installed, the image built or cached.
      ...common,
      displayName: 'lxd',
      testMatch: ['<rootDir>/tests/lxd/**/*.test.ts'],
      setupFilesAfterEnv: ['<rootDir>/tests/support/e2e-setup.ts'],
    },
    {
      ...common,
      displayName: 'integration',
      testMatch: ['<rootDir>/tests/integration/**/*.test.ts'],
    },
  ],
};
