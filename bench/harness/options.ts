/**
 * A benchmark's settings come from BENCH_* environment variables (a smoke or quick run sets a few);
 * these read them, refusing a malformed value with the variable's name rather than running with it.
 */

/** The variable's trimmed value; unset or blank reads as undefined. */
export function env(name: string): string | undefined {
  const value = process.env[name]?.trim();
  return value === '' ? undefined : value;
}

export function numberEnv(name: string, fallback: number, { integer = true, min = 1 } = {}): number {
  const text = env(name);
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isFinite(value) || value < min || (integer && !Number.isInteger(value))) {
    throw new Error(`${name}: expected ${integer ? 'an integer' : 'a number'} ≥ ${min}, got "${text}"`);
  }
  return value;
}

/** A comma-separated list; with `allowed`, every item must be one of them. */
export function listEnv<T extends string>(name: string, fallback: readonly T[], allowed?: readonly T[]): T[] {
  const text = env(name);
  if (text === undefined) return [...fallback];
  const values = text.split(',').map((value) => value.trim()) as T[];
  for (const value of values) {
    if (allowed !== undefined && !allowed.includes(value)) {
      throw new Error(`${name}: expected some of ${allowed.join(', ')}, got "${value}"`);
    }
  }
  return values;
}

/**
 * BENCH_OUTPUT, the results file's name in bench/results/: `<benchmark>*.json`, so a smoke or quick
 * run can write beside the committed `<benchmark>.json` without replacing it.
 */
export function outputName(benchmark: string): string {
  const name = env('BENCH_OUTPUT') ?? `${benchmark}.json`;
  if (!new RegExp(`^${benchmark}[\\w.-]*\\.json$`).test(name)) {
    throw new Error(`BENCH_OUTPUT: expected ${benchmark}*.json, got "${name}"`);
  }
  return name;
}
