import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { RunReport } from '../../../src/engine/records.js';
import { compareReports } from '../../support/compare-reports.js';

const fixture = (name: string) => JSON.parse(readFileSync(join(import.meta.dirname, '..', '..', 'fixtures', 'reports', name), 'utf8')) as RunReport;

describe('compareReports', () => {
  it('a report equals itself, and durations, timestamps, version, messages and cross-host order are ignored', () => {
    const before = fixture('before.json');
    expect(compareReports(before, before)).toEqual([]);
    const reordered: RunReport = { ...before, version: 'x', durationMs: 1, startedAt: 'y', steps: [before.steps[1]!, before.steps[0]!, ...before.steps.slice(2)].map((s) => ({ ...s, durationMs: 77, message: 'other' })) };
    expect(compareReports(before, reordered)).toEqual([]);
  });

  it('lists a record whose status or changes differ, and a host summary that differs', () => {
    expect(compareReports(fixture('before.json'), fixture('after.json'))).toEqual([
      'b record 1: p :: configure :: step :: r :: write x :: ok :: unchanged ::   →  p :: configure :: step :: r :: write x :: changed :: changed :: write /x',
      'b summary: {"ok":1,"changed":0,"failed":0,"skipped":1,"unreachable":0,"roundTrips":2,"state":"ok"}  →  {"ok":1,"changed":1,"failed":0,"skipped":1,"unreachable":0,"roundTrips":2,"state":"ok"}',
    ]);
  });

  it('each run\'s own directory reads as <work> in change summaries', () => {
    const before = fixture('before.json');
    const at = (dir: string): RunReport => ({ ...before, steps: before.steps.map((s) => (s.changes ? { ...s, changes: [`issue certificate in ${dir}/pki`] } : s)) });
    expect(compareReports(at('/tmp/x/before'), at('/tmp/x/after'), ['/tmp/x/before', '/tmp/x/after'])).toEqual([]);
    expect(compareReports(at('/tmp/x/before'), at('/tmp/x/after'))).toHaveLength(1);
  });

  it('a host\'s order of records counts; a missing record is listed', () => {
    const before = fixture('before.json');
    const swapped: RunReport = { ...before, steps: [before.steps[2]!, before.steps[1]!, before.steps[0]!, before.steps[3]!] };
    expect(compareReports(before, swapped)).toHaveLength(2);
    expect(compareReports(before, { ...before, steps: before.steps.slice(0, 3) })).toEqual(['b record 2: p :: configure :: step :: r :: once :: skipped :: unchanged ::   →  (none)']);
  });
});
