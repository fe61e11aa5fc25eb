/** Did-you-mean for names: the closest allowed name to what a file or a flag gave. */

/** `; did you mean "x"?` for the allowed name closest to `k`, or "". */
export function suggest(k: string, allowed: string[]): string {
  const best = closest(k, allowed);
  return best !== undefined ? `; did you mean "${best}"?` : "";
}

/**
 * The allowed name closest to `k`: one that differs only in case, else the nearest within
 * two edits (the first of equals), or undefined.
 */
export function closest(k: string, allowed: readonly string[]): string | undefined {
  const lower = k.toLowerCase();
  const sameCase = allowed.find((a) => a.toLowerCase() === lower);
  if (sameCase !== undefined) return sameCase;
  // A long value is no typo of a short name (and would make the distance slow).
  if (k.length > 200) return undefined;
  let best: string | undefined;
  let bestD = 3;
  for (const a of allowed) {
    if (Math.abs(a.length - k.length) >= bestD) continue;
    const d = editDistance(k, a);
    if (d < bestD) {
      best = a;
      bestD = d;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  const dp = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = dp[0]!;
    dp[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = dp[j]!;
      dp[j] = Math.min(dp[j]! + 1, dp[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return dp[b.length]!;
}
