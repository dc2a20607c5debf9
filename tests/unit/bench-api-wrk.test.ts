import { readFileSync } from 'node:fs';

import { sumDataSegmentsOut } from '../../bench/api/round-trips.js';
import { SYSTEM_ENV } from '../../bench/api/system-env.js';
import { parseWrkOutput, SUMMARY_MARK, wrkVersion } from '../../bench/api/wrk-output.js';

// The turku-api benchmark's pure parts (bench/api/README.md): reading wrk's output, counting
// PostgreSQL's answers from `ss`, and the environment its processes get.

/** What Debian's wrk 4.1.0 printed for a POST row with bench/api/wrk.lua (a real run, trimmed of nothing). */
const WRK_STDOUT = `Running 3s test @ http://127.0.0.1:40669/v1/agent_ping_checkin
  2 threads and 16 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    10.99ms   36.73ms 256.27ms   94.23%
    Req/Sec     3.98k     1.28k    6.31k    67.27%
  Latency Distribution
     50%    1.93ms
     75%    3.47ms
     90%    7.59ms
     99%  215.07ms
  22338 requests in 3.02s, 4.54MB read
Requests/sec:   7385.74
Transfer/sec:      1.50MB
TURKU_WRK_SUMMARY {"requests":22338,"durationUs":3024475,"bytes":4757994,"errors":{"connect":0,"read":0,"write":0,"status":0,"timeout":0},"latencyUs":{"min":72,"mean":10989.6,"stdev":36727.5,"max":256271,"p50":1928,"p75":3470,"p90":7586,"p99":215069,"p999":249718}}
`;

describe('parseWrkOutput', () => {
  it('reads the summary line wrk.lua prints: requests/s over wrk’s own duration, latencies in ms', () => {
    const summary = parseWrkOutput(WRK_STDOUT);
    expect(summary.requests).toBe(22338);
    expect(summary.seconds).toBe(3.024);
    expect(summary.requestsPerSecond).toBe(Math.round(22338 / 3.024475));
    expect(summary.failed).toBe(0);
    // The same histogram as wrk's --latency table above (1.93 ms, 215.07 ms), unrounded.
    expect(summary.latencyMs).toEqual({
      p50: 1.928,
      p75: 3.47,
      p90: 7.586,
      p99: 215.069,
      p999: 249.718,
      max: 256.271,
      mean: 10.99,
    });
  });

  it('counts every kind of failure: answers ≥ 400, socket errors and timeouts', () => {
    const failing = WRK_STDOUT.replace(
      '"errors":{"connect":0,"read":0,"write":0,"status":0,"timeout":0}',
      '"errors":{"connect":1,"read":2,"write":3,"status":40,"timeout":5}',
    );
    const summary = parseWrkOutput(failing);
    expect(summary.errors).toEqual({ connect: 1, read: 2, write: 3, status: 40, timeout: 5 });
    expect(summary.failed).toBe(51);
  });

  it('refuses output without the summary line (wrk failed, or ran without wrk.lua)', () => {
    const withoutSummary = WRK_STDOUT.split('\n')
      .filter((line) => !line.startsWith(SUMMARY_MARK))
      .join('\n');
    expect(() => parseWrkOutput(withoutSummary)).toThrow(/no summary line/);
  });

  it('refuses a summary with a missing figure rather than reporting NaN', () => {
    expect(() => parseWrkOutput(WRK_STDOUT.replace('"p99":215069,', ''))).toThrow(/latencyUs\.p99/);
    expect(() => parseWrkOutput(`${SUMMARY_MARK}{"requests":1,"durationUs":0}`)).toThrow(/durationUs/);
  });
});

test('wrkVersion keeps the version and event loop of `wrk --version`', () => {
  expect(wrkVersion('wrk debian/4.1.0-3+b2 [epoll] Copyright (C) 2012 Will Glozer\nUsage: wrk <options> <url>\n')).toBe(
    'wrk debian/4.1.0-3+b2 [epoll]',
  );
  expect(wrkVersion('')).toBe('unknown');
});

test('sumDataSegmentsOut adds data_segs_out over every socket `ss -tinH` lists, not segs_out', () => {
  const ss = [
    '0 0 127.0.0.1:5432 127.0.0.1:40000',
    '\t cubic wscale:7,7 rto:201 segs_out:900 segs_in:800 data_segs_out:500 data_segs_in:499 lastsnd:4',
    '0 0 127.0.0.1:5432 127.0.0.1:40002',
    '\t cubic wscale:7,7 rto:201 segs_out:30 segs_in:30 data_segs_out:12 data_segs_in:12 lastsnd:4',
  ].join('\n');
  expect(sumDataSegmentsOut(ss)).toBe(512);
  expect(sumDataSegmentsOut('')).toBe(0);
});

test('the processes get a systemd-like environment: PATH and LANG only', () => {
  expect(Object.keys(SYSTEM_ENV).sort()).toEqual(['LANG', 'PATH']);
  expect(SYSTEM_ENV['PATH']).toMatch(/^\/usr\/local\/sbin:/);
});

test('wrk.lua prints the summary line the parser reads, and picks bodies only when given a file', () => {
  const lua = readFileSync(new URL('../../bench/api/wrk.lua', import.meta.url), 'utf8');
  expect(lua).toContain(`'${SUMMARY_MARK}{"requests":%d,"durationUs":%d`);
  // `request` is defined only inside the bodies branch: a GET row keeps wrk's fixed request, no Lua per request.
  expect(lua).toMatch(/if bodies_file ~= nil and bodies_file ~= "" then[\s\S]*function request\(\)[\s\S]*\nend\n/);
});
