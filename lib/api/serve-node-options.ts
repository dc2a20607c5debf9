/**
 * Node.js options for a long-running `turku-api serve` (docs/api.md, "Memory"). V8 sizes the
 * young generation from the machine's memory, up to 64 MiB per semi-space on a large machine:
 * a server that allocates a little per request then holds over 100 MB of short-lived garbage.
 * 16 MiB keeps scavenges cheap and the resident size small. V8 reads it only at start-up, so
 * the service's command line carries it.
 */
export const SERVE_NODE_OPTIONS: readonly string[] = ['--max-semi-space-size=16'];
