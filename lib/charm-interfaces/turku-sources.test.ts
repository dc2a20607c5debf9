import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { loadAgentConfig } from '../common/config-files.js';
import { z } from 'zod';

import { formatFirstIssue } from '../turku/protocol/issues.js';
import { SourceSettingsMap } from '../turku/protocol/source.js';
import { valueOf } from './fields.js';
import { readSources, sourcesFileText, writeSources } from './turku-sources.js';

const JUJU_ADDRESS_KEYS = {
  'private-address': '10.1.2.3',
  'ingress-address': '10.1.2.3',
  'egress-subnets': '10.1.2.3/32',
};

describe('round trip', () => {
  const sources = {
    etc: { path: '/etc' },
    home: {
      path: '/home',
      frequency: 'daily, 0200-0600',
      retention: 'last 7 days, earliest of month',
      exclude: ['*.tmp'],
    },
  };

  test('the principal writes one JSON key the agent reads back as given', () => {
    const bag = writeSources(sources);
    expect(bag).toEqual({ sources: JSON.stringify(sources) });
    expect(readSources({ ...bag, ...JUJU_ADDRESS_KEYS })).toEqual({ ok: true, value: { sources, dropped: [] } });
  });

  test('unknown keys go through verbatim, as sources.d sends them to the API', () => {
    const withExtras = { etc: { path: '/etc', bwlimit: 1000, shared_service: 'true' as const, 'x-owner': 'ops' } };
    expect(valueOf(readSources(writeSources(withExtras))).sources).toEqual(withExtras);
  });

  test('the file text is the JSON a sources.d file holds', () => {
    const read = valueOf(readSources(writeSources(sources)));
    expect(JSON.parse(sourcesFileText(read.sources))).toEqual(sources);
    expect(sourcesFileText(read.sources).endsWith('}\n')).toBe(true);
  });
});

describe('errors name the key', () => {
  test('missing key, bad JSON, wrong top level', () => {
    expect(readSources({ ...JUJU_ADDRESS_KEYS })).toEqual({ ok: false, problems: ['sources: required'] });
    expect(readSources({ sources: '{"etc": ' })).toEqual({ ok: false, problems: ['sources: expected JSON text'] });
    expect(readSources({ sources: '["etc"]' })).toEqual({
      ok: false,
      problems: ['sources: expected a JSON object of source name -> settings'],
    });
  });

  test("a bad setting reads like the API's validation error", () => {
    expect(readSources({ sources: '{"home": {"path": "/home", "frequency": "daily, 2am"}}' })).toEqual({
      ok: false,
      problems: [expect.stringMatching(/^sources: source "home": frequency: /) as string],
    });
    expect(readSources({ sources: '{"../x": {"path": "/x"}}' })).toEqual({
      ok: false,
      problems: ['sources: source name "../x": must not contain "/", "[" or "]"'],
    });
  });

  test('the writer refuses entries without path (the agent would drop them) and bad settings', () => {
    expect(() => writeSources({ etc: { frequency: 'daily' } })).toThrow(
      'cannot encode relation data: sources: source "etc": path: required',
    );
    expect(() => writeSources({ etc: { path: '/etc', snapshot_mode: 'zfs' } as never })).toThrow(
      /^cannot encode relation data: sources: source "etc": snapshot_mode: /,
    );
  });
});

// The same text as a sources.d/<app>.json file, through the agent's own loader and then the
// schema the API validates update_config's sources with: accepted and rejected alike, and the
// same entries kept.
describe('accepted and rejected exactly like a sources.d file', () => {
  const cases: Record<string, string> = {
    minimal: '{"etc": {"path": "/etc"}}',
    full: JSON.stringify({
      home: {
        path: '/home',
        frequency: 'daily, 0200-0600',
        retention: 'last 7 days, earliest of month',
        comment: 'users',
        bwlimit: '10m',
        snapshot_mode: '',
        preserve_hard_links: 1,
        shared_service: 'false',
        large_rotating_files: true,
        large_modifying_files: false,
        filter: ['- *.swp', 'dir-merge .turku-filter'],
        exclude: ['/home/*/.cache'],
      },
    }),
    'bad frequency': '{"home": {"path": "/home", "frequency": "daily, 2am"}}',
    'bad retention': '{"home": {"path": "/home", "retention": "last 7 fortnights"}}',
    'bad name': '{"../x": {"path": "/x"}}',
    'reserved name': '{"x.snapshots": {"path": "/x"}}',
    'no path is dropped, not checked': '{"nopath": {"frequency": "bogus"}, "etc": {"path": "/etc"}}',
    'empty path is dropped': '{"etc": {"path": ""}}',
    'not a mapping is dropped': '{"etc": "just a string"}',
    null: 'null',
    'empty object': '{}',
    'top-level list': '[{"path": "/etc"}]',
    'not JSON': '{etc: /etc}',
    'path not a string': '{"etc": {"path": 5}}',
    'filter with a line break': '{"etc": {"path": "/etc", "filter": ["- a\\nb"]}}',
    'bad snapshot mode': '{"etc": {"path": "/etc", "snapshot_mode": "zfs"}}',
    'bad bwlimit': '{"etc": {"path": "/etc", "bwlimit": "fast"}}',
    'unknown keys': '{"etc": {"path": "/etc", "username": "u", "password": "p", "custom": [1]}}',
    'string flag': '{"etc": {"path": "/etc", "shared_service": "yes"}}',
  };

  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'turku-sources-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  /** What the agent (loader) and then the API (schema) make of the file. */
  async function asSourcesFile(name: string, text: string) {
    const configDir = join(dir, name.replace(/\W+/g, '-'));
    await mkdir(join(configDir, 'sources.d'), { recursive: true });
    await writeFile(join(configDir, 'sources.d', 'app.json'), text);
    let loaded;
    try {
      loaded = await loadAgentConfig(configDir);
    } catch {
      return { accepted: false as const };
    }
    // As update_config sees it: the map under `sources`, which names the source in messages.
    const checked = z.object({ sources: SourceSettingsMap }).safeParse({ sources: loaded.sources });
    if (!checked.success) return { accepted: false as const, apiError: formatFirstIssue(checked.error) };
    return { accepted: true as const, sources: loaded.sources, warnings: loaded.warnings };
  }

  test.each(Object.entries(cases))('%s', async (name, text) => {
    const file = await asSourcesFile(name, text);
    const bag = readSources({ sources: text });
    expect(bag.ok).toBe(file.accepted);
    if (bag.ok && file.accepted) {
      expect(bag.value.sources).toEqual(file.sources);
      expect(bag.value.dropped.map((source) => `Ignoring source "${source}": it has no "path"`)).toEqual(file.warnings);
    }
    if (!bag.ok && file.apiError !== undefined) expect(bag.problems[0]).toBe(`sources: ${file.apiError}`);
  });

  test('both outcomes occur among the cases', () => {
    const outcomes = Object.values(cases).map((text) => readSources({ sources: text }).ok);
    expect(outcomes).toContain(true);
    expect(outcomes).toContain(false);
  });
});
