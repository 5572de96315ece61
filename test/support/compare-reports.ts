// Compares two --json run reports for what a refactoring must not change: each host's records in order by
// (play, phase, kind, role, step, status, changed, changes), and the per-host summaries. Durations, timestamps,
// the version and messages (which carry generated values: ports, keys, times) are left out.
//
//   node dist/test/support/compare-reports.js BEFORE.json AFTER.json   → "identical", or the differences (exit 1)
// (each report's own directory, where its run wrote pki/ and prometheus/, reads as <work> in change summaries)
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { RunReport, StepRecord } from '../../src/engine/records.js';

/** A record as compared: what it was of and how it ended; order across hosts is free (hosts run in parallel). */
function key(r: StepRecord, workDir: string | undefined): string {
  const changes = (r.changes ?? []).map((c) => (workDir ? c.split(workDir).join('<work>') : c));
  return [r.play, r.phase ?? '-', r.kind ?? 'step', r.role, r.step, r.status, r.changed ? 'changed' : 'unchanged', changes.join(' | ')].join(' :: ');
}

/** Per host (and 'controller'), its records' keys in the order they ended. */
function byHost(r: RunReport, workDir: string | undefined): Map<string, string[]> {
  const m = new Map<string, string[]>();
  for (const s of r.steps) {
    if (!m.has(s.host)) m.set(s.host, []);
    m.get(s.host)!.push(key(s, workDir));
  }
  return m;
}

/**
 * The differences between two reports, one line each; [] when they are the same. `workDirs`: each run's own
 * directory (its inventory's, where pki/ and prometheus/ are written), read as `<work>` in change summaries.
 */
export function compareReports(before: RunReport, after: RunReport, workDirs: [string, string] | [] = []): string[] {
  const out: string[] = [];
  if (before.check !== after.check) out.push(`check: ${before.check} → ${after.check}`);
  if (before.phases.join(',') !== after.phases.join(',')) out.push(`phases: ${before.phases.join(',')} → ${after.phases.join(',')}`);
  const b = byHost(before, workDirs[0]);
  const a = byHost(after, workDirs[1]);
  for (const host of new Set([...b.keys(), ...a.keys()])) {
    const x = b.get(host) ?? [];
    const y = a.get(host) ?? [];
    for (let i = 0; i < Math.max(x.length, y.length); i++) {
      if (x[i] === y[i]) continue;
      out.push(`${host} record ${i + 1}: ${x[i] ?? '(none)'}  →  ${y[i] ?? '(none)'}`);
    }
  }
  const summary = (r: RunReport) => new Map(r.hosts.map(({ host, ...s }) => [host, JSON.stringify(s)]));
  const sb = summary(before);
  const sa = summary(after);
  for (const host of new Set([...sb.keys(), ...sa.keys()])) if (sb.get(host) !== sa.get(host)) out.push(`${host} summary: ${sb.get(host) ?? '(none)'}  →  ${sa.get(host) ?? '(none)'}`);
  const hostOrder = (r: RunReport) => r.hosts.map((h) => h.host).join(',');
  if (hostOrder(before) !== hostOrder(after)) out.push(`hosts order: ${hostOrder(before)} → ${hostOrder(after)}`);
  return out;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const [before, after] = process.argv.slice(2).map((f) => JSON.parse(readFileSync(f, 'utf8')) as RunReport);
  if (!before || !after) {
    process.stderr.write('usage: compare-reports BEFORE.json AFTER.json\n');
    process.exit(4);
  }
  const [bf, af] = process.argv.slice(2) as [string, string];
  const diffs = compareReports(before, after, [dirname(resolve(bf)), dirname(resolve(af))]);
  process.stdout.write(diffs.length ? `${diffs.join('\n')}\n` : 'identical\n');
  process.exitCode = diffs.length ? 1 : 0;
}
