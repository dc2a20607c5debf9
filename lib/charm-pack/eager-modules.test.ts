// The wrappers esbuild puts around lazily loaded modules get parentheses (V8 then compiles them
// eagerly, and Node's compile cache keeps them); nothing else changes.
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';

import { bundleCharm } from './bundle.js';
import { eagerModuleBodies } from './eager-modules.js';

describe('eagerModuleBodies', () => {
  const HELPER = 'var h=(e,t)=>()=>(e&&(t=e(e=0)),t);';

  it('parenthesises the wrapped bodies the top level runs, and those they run in turn', () => {
    const code = `${HELPER}var a,b=h(()=>{c()}),c=q((e,t)=>{t.exports=1});var d=h(function(){g()});var x=C(b());d();`;
    expect(eagerModuleBodies(code)).toBe(
      `${HELPER}var a,b=h((()=>{c()})),c=q(((e,t)=>{t.exports=1}));var d=h((function(){g()}));var x=C(b());d();`,
    );
  });

  it('leaves the bodies run later alone: called from a function, a promise, or not at all', () => {
    const code = `${HELPER}var a=h(()=>{}),b=h(()=>{}),c=h(()=>{});function f(){a()}Promise.resolve().then(()=>(b(),0));`;
    expect(eagerModuleBodies(code)).toBe(code);
  });

  it('leaves other code alone: nested wrappers, several arguments, let, member calls', () => {
    const code = 'function f(){var x=h(()=>{});x()}var y=h(()=>1,2);var w=o.h(()=>{});let v=h(()=>{});y();w();v();f();';
    expect(eagerModuleBodies(code)).toBe(code);
  });

  it('keeps a hashbang line', () => {
    expect(eagerModuleBodies('#!/usr/bin/env node\nvar a=h(()=>{});a();')).toBe(
      '#!/usr/bin/env node\nvar a=h((()=>{}));a();',
    );
  });
});

describe('a bundle with a lazily loaded module', () => {
  let work: string;
  beforeAll(async () => {
    work = await mkdtemp(join(os.tmpdir(), 'eager-modules-test-'));
  });
  afterAll(async () => {
    await rm(work, { recursive: true, force: true });
  });

  it('has its module bodies in parentheses and runs as before', async () => {
    // later.ts imports shared.ts, so esbuild wraps both.
    await writeFile(
      join(work, 'later.ts'),
      "import { shared } from './shared.js';\nexport const later = `later after ${shared}`;\nconsole.log('later loaded');\n",
    );
    await writeFile(join(work, 'shared.ts'), "console.log('shared loaded');\nexport const shared = 'shared';\n");
    await writeFile(
      join(work, 'entry.ts'),
      "import { shared } from './shared.js';\nconsole.log(shared);\nvoid import('./later.js').then(({ later }) => console.log(later));\n",
    );
    const outFile = join(work, 'out.cjs');
    await bundleCharm(join(work, 'entry.ts'), outFile);
    const bundle = await readFile(outFile, 'utf8');
    // shared.ts runs at start (parenthesised), later.ts on demand (left lazy).
    expect(bundle.match(/=[\w$]+\(\(\(\)=>\{/g)).toHaveLength(1);
    expect(bundle.match(/=[\w$]+\(\(\)=>\{/g)).toHaveLength(1);
    const result = spawnSync(process.execPath, [outFile], { encoding: 'utf8' });
    expect(result.stderr).toBe('');
    expect(result.stdout).toBe('shared loaded\nshared\nlater loaded\nlater after shared\n');
  });
});
