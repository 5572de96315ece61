/**
 * A unified diff of two texts (line-based LCS, 3 lines of context), headed `--- before: <path>` and
 * `+++ after: <path>` as Ansible does. `hideRemoved` replaces the text of every removed line (old secrets). Returns '' when the texts are equal.
 */
export function unifiedDiff(before: string, after: string, path: string, opts: { context?: number; hideRemoved?: string } = {}): string {
  const context = opts.context ?? 3;
  if (before === after) return '';
  const a = splitLines(before);
  const b = splitLines(after);
  const ops = diffLines(a, b);
  const hunks = groupHunks(ops, context);
  const out = [`--- before: ${path}`, `+++ after: ${path}`];
  for (const h of hunks) {
    out.push(`@@ -${range(h.aStart, h.aLen)} +${range(h.bStart, h.bLen)} @@`);
    out.push(...(opts.hideRemoved === undefined ? h.lines : h.lines.map((l) => (l.startsWith('-') ? `-${opts.hideRemoved}` : l))));
  }
  if (!before.endsWith('\n') && before !== '') out.push('\\ No newline at end of file (before)');
  if (!after.endsWith('\n') && after !== '') out.push('\\ No newline at end of file (after)');
  return `${out.join('\n')}\n`;
}

type Op = { kind: ' ' | '-' | '+'; line: string };

function splitLines(s: string): string[] {
  if (s === '') return [];
  const lines = s.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  return lines;
}

/** Above this many cells the middle part is shown as removed-then-added instead of aligned (keeps memory bounded). */
const MAX_CELLS = 4_000_000;

function diffLines(a: string[], b: string[]): Op[] {
  let pre = 0;
  while (pre < a.length && pre < b.length && a[pre] === b[pre]) pre++;
  let suf = 0;
  while (suf < a.length - pre && suf < b.length - pre && a[a.length - 1 - suf] === b[b.length - 1 - suf]) suf++;
  const am = a.slice(pre, a.length - suf);
  const bm = b.slice(pre, b.length - suf);
  const ops: Op[] = a.slice(0, pre).map((line) => ({ kind: ' ', line }));
  if ((am.length + 1) * (bm.length + 1) > MAX_CELLS) {
    ops.push(...am.map((line): Op => ({ kind: '-', line })), ...bm.map((line): Op => ({ kind: '+', line })));
  } else {
    ops.push(...lcsOps(am, bm));
  }
  ops.push(...a.slice(a.length - suf).map((line): Op => ({ kind: ' ', line })));
  return ops;
}

function lcsOps(a: string[], b: string[]): Op[] {
  const n = a.length;
  const m = b.length;
  const w = m + 1;
  // len[i*w+j] = LCS length of a[i..] and b[j..]
  const len = new Uint32Array((n + 1) * w);
  for (let i = n - 1; i >= 0; i--)
    for (let j = m - 1; j >= 0; j--) len[i * w + j] = a[i] === b[j] ? len[(i + 1) * w + j + 1]! + 1 : Math.max(len[(i + 1) * w + j]!, len[i * w + j + 1]!);
  const ops: Op[] = [];
  let i = 0;
  let j = 0;
  while (i < n && j < m) {
    if (a[i] === b[j]) {
      ops.push({ kind: ' ', line: a[i++]! });
      j++;
    } else if (len[(i + 1) * w + j]! >= len[i * w + j + 1]!) ops.push({ kind: '-', line: a[i++]! });
    else ops.push({ kind: '+', line: b[j++]! });
  }
  while (i < n) ops.push({ kind: '-', line: a[i++]! });
  while (j < m) ops.push({ kind: '+', line: b[j++]! });
  return ops;
}

interface Hunk {
  aStart: number;
  aLen: number;
  bStart: number;
  bLen: number;
  lines: string[];
}

function groupHunks(ops: Op[], context: number): Hunk[] {
  const changed = ops.map((o, i) => (o.kind === ' ' ? -1 : i)).filter((i) => i >= 0);
  const hunks: Hunk[] = [];
  let k = 0;
  while (k < changed.length) {
    const from = Math.max(0, changed[k]! - context);
    let last = changed[k]!;
    while (k + 1 < changed.length && changed[k + 1]! - last <= 2 * context) last = changed[++k]!;
    k++;
    const to = Math.min(ops.length, last + context + 1);
    let aLine = 1;
    let bLine = 1;
    for (let i = 0; i < from; i++) {
      if (ops[i]!.kind !== '+') aLine++;
      if (ops[i]!.kind !== '-') bLine++;
    }
    const slice = ops.slice(from, to);
    hunks.push({
      aStart: aLine,
      aLen: slice.filter((o) => o.kind !== '+').length,
      bStart: bLine,
      bLen: slice.filter((o) => o.kind !== '-').length,
      lines: slice.map((o) => `${o.kind}${o.line}`),
    });
  }
  return hunks;
}

// Unified diff convention: an empty range starts one line before (e.g. "-0,0" for a new file).
function range(start: number, len: number): string {
  const s = len === 0 ? start - 1 : start;
  return len === 1 ? `${s}` : `${s},${len}`;
}
