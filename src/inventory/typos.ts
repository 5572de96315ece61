/** Edit distance with adjacent transpositions counted as one edit (optimal string alignment). */
export function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.length][b.length];
}

/**
 * The known name `name` was probably meant to be: within 2 edits (1 for names shorter than 8 characters, so that
 * short unrelated names like `port`/`host` are not confused), closest first, then alphabetical.
 */
export function closestName(name: string, known: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const k of known) {
    if (k === name) return undefined;
    const limit = Math.min(name.length, k.length) < 8 ? 1 : 2;
    if (Math.abs(k.length - name.length) > limit) continue;
    const d = editDistance(name, k);
    if (d <= limit && (d < bestD || (d === bestD && best !== undefined && k < best))) {
      best = k;
      bestD = d;
    }
  }
  return best;
}
