// The layering of the repository, checked by `npm run lint:deps` (part of `npm run lint`).
// docs/development.md, "Layering", says what each layer holds; docs/architecture.md maps the tree.
//
// From the bottom up, each layer importing only the layers below it:
//   domain      lib/turku                      pure rules and protocol shapes, no I/O
//   common      lib/common                     the I/O every workload needs
//   workloads   lib/api, lib/agent, lib/storage, lib/timers, lib/policy-cli
//                                              the programs Turku ships; each stands alone
//   charms      lib/charm, lib/charm-host, lib/charm-interfaces, lib/charm-pack, lib/charm-testing,
//               charms/*                       what runs a workload under Juju, and packs it
//   substrate   lib/substrate                  where a bundle is deployed: a real Juju or the local one
// Tests and benchmarks (tests/, bench/, *.test.ts, __tests__/, testdata/) stand outside the layers:
// they may import any layer, and no layer may import them.
//
// Paths are relative to the repository root; `depcruise` runs there.

/** What is not shipped: tests, their helpers and data, benchmarks. */
const DEV = ['^tests/', '^bench/', '^scripts/', '[.]test[.]ts$', '/__tests__/', '/testdata/'];

const DOMAIN = '^lib/turku/';
const COMMON = '^lib/common/';
const WORKLOADS = '^lib/(api|agent|storage|timers|policy-cli)/';
const CHARM_LIBRARIES = '^lib/(charm|charm-host|charm-interfaces|charm-pack|charm-testing)/';
const CHARMS = '^charms/';
const SUBSTRATE = '^lib/substrate/';

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      comment:
        'Two modules that import each other (directly or round a loop) are one module in two files: ' +
        'neither can be read, tested or moved alone. Put what both need in a module of its own. ' +
        'Type-only imports count too (tsPreCompilationDeps).',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'domain-imports-no-layer',
      comment:
        'lib/turku is the pure domain (grammars, protocol shapes, naming): everything builds on it, ' +
        'so it builds on nothing of ours.',
      severity: 'error',
      from: { path: DOMAIN, pathNot: DEV },
      to: { path: '^(lib|charms)/', pathNot: DOMAIN },
    },
    {
      name: 'domain-does-no-io',
      comment:
        'The domain computes; reading files, running programs and talking to the network belong to ' +
        'the layers above, so the domain can be tested with plain values (docs/domain.md).',
      severity: 'error',
      from: { path: DOMAIN, pathNot: DEV },
      to: {
        dependencyTypes: ['core'],
        path: '^(node:)?(fs|fs/promises|child_process|net|dgram|dns|http|https|http2|tls|os|process|readline|worker_threads|cluster|sqlite)$',
      },
    },
    {
      name: 'common-imports-only-domain',
      comment: 'lib/common is the I/O shared by the workloads: it sits on the domain and under everything else.',
      severity: 'error',
      from: { path: COMMON, pathNot: DEV },
      to: { path: '^(lib|charms)/', pathNot: [COMMON, DOMAIN] },
    },
    {
      name: 'workloads-below-charms',
      comment:
        'A workload runs without Juju (operators start turku-api or turku-agent-ping by hand, tests ' +
        'run them as plain processes): it never imports the charm runtime, a charm or a substrate.',
      severity: 'error',
      from: { path: WORKLOADS, pathNot: DEV },
      to: { path: [CHARM_LIBRARIES, CHARMS, SUBSTRATE] },
    },
    {
      name: 'workloads-independent',
      comment:
        'The API, the agent, the storage, the timers and turku-policy are separate programs on separate ' +
        'machines that talk only over the wire: none imports another. What two share goes down to ' +
        'lib/common or lib/turku.',
      severity: 'error',
      from: { path: WORKLOADS, pathNot: DEV },
      to: { path: WORKLOADS, pathNot: '^lib/$1/' },
    },
    {
      name: 'charm-layer-below-substrate',
      comment: 'A charm runs the same on any substrate: the charm layer never imports lib/substrate.',
      severity: 'error',
      from: { path: [CHARM_LIBRARIES, CHARMS], pathNot: DEV },
      to: { path: SUBSTRATE },
    },
    {
      name: 'charm-libraries-serve-every-charm',
      comment: 'lib/charm* is shared by all charms, so it depends on none of them.',
      severity: 'error',
      from: { path: CHARM_LIBRARIES, pathNot: DEV },
      to: { path: CHARMS },
    },
    {
      name: 'charms-independent',
      comment:
        'Each charm is packed into its own bundle and deployed on its own: one charm never imports ' +
        'another. What two share is a relation interface (lib/charm-interfaces) or a charm library.',
      severity: 'error',
      from: { path: '^charms/([^/]+)/', pathNot: DEV },
      to: { path: CHARMS, pathNot: '^charms/$1/' },
    },
    {
      name: 'test-fake-only-in-tests',
      comment:
        'lib/charm-testing is the Juju fake: tests run charms against it, nothing shipped may depend on ' +
        'it. One exception: lib/substrate/local IS a fake Juju (the model simulator and its hook tools ' +
        'on network namespaces, for the integration tests and `npm run demo`), so it drives the fake; ' +
        'so does lib/substrate/lxd, which gives that fake LXD containers for machines.',
      severity: 'error',
      from: { pathNot: [...DEV, '^lib/charm-testing/', '^lib/substrate/(local|lxd)/'] },
      to: { path: '^lib/charm-testing/' },
    },
    {
      name: 'production-never-imports-tests',
      comment:
        'Shipped code must build and run without the tests, their helpers (tests/support, __tests__) ' +
        'and their data; a helper that shipped code needs is not a test helper.',
      severity: 'error',
      from: { pathNot: DEV },
      to: { path: DEV },
    },
  ],
  options: {
    // Our own code only: packages are not layered, and their internal cycles are not ours.
    doNotFollow: { path: ['node_modules'] },
    exclude: { path: ['^node_modules/', '^dist/', '^build/', '^coverage/'] },
    moduleSystems: ['es6', 'cjs'],
    // Count `import type` too: a type-only import still ties two modules together.
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      // Sources import siblings as "./x.js" (NodeNext); with the tsconfig, that resolves to x.ts.
      extensions: ['.ts', '.js', '.cjs', '.json'],
    },
    reporterOptions: { text: { highlightFocused: true } },
  },
};
