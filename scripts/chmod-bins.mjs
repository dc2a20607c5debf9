// Marks every program named in package.json's "bin" executable after a build, so tests and
// operators can run dist/ directly. Missing files are an error: a bin must exist once built.
import { chmodSync, readFileSync } from 'node:fs';

const { bin } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
for (const path of Object.values(bin)) chmodSync(new URL(`../${path}`, import.meta.url), 0o755);
