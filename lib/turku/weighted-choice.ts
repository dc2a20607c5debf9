/**
 * Weighted random choice (docs/api.md, "Storage assignment"), used to assign a machine to a storage
 * and to pick a volume. Candidates with weight 0 (full, over the high-water mark) are only chosen
 * when every candidate has weight 0, and then uniformly.
 */
export function weightedChoice<T>(
  candidates: readonly T[],
  weightOf: (candidate: T) => number,
  random: () => number = Math.random,
): T | undefined {
  if (candidates.length === 0) return undefined;
  const weights = candidates.map((candidate) => Math.max(0, weightOf(candidate)));
  const total = weights.reduce((sum, weight) => sum + weight, 0);
  if (!(total > 0)) return candidates[Math.min(candidates.length - 1, Math.floor(random() * candidates.length))];
  let point = random() * total;
  for (let i = 0; i < candidates.length; i++) {
    point -= weights[i]!;
    if (point < 0 && weights[i]! > 0) return candidates[i];
  }
  // Rounding at the very top of the range: the last candidate that has any weight.
  for (let i = candidates.length - 1; i >= 0; i--) if (weights[i]! > 0) return candidates[i];
  return undefined;
}
