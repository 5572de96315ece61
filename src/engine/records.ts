import type { Phase } from './phase.js';

export type StepStatus = 'ok' | 'changed' | 'failed' | 'skipped' | 'unreachable';

export interface StepRecord {
  host: string;
  play: string;
  phase: Phase | 'connect';
  role: string;
  step: string;
  status: StepStatus;
  changed: boolean;
  durationMs: number;
  message?: string;
  /** Summaries of what changed (or would change in check mode). */
  changes?: string[];
  diff?: string;
  /** A failure of the controller itself (host 'controller'), recorded once however many hosts needed it. */
  controller?: true;
}

export interface HostSummary {
  host: string;
  ok: number;
  changed: number;
  failed: number;
  skipped: number;
  unreachable: number;
  roundTrips: number;
  /** Final state: failed/unreachable hosts stopped their own steps. */
  state: 'ok' | 'failed' | 'unreachable';
  error?: string;
}

export interface RunReport {
  version: string;
  startedAt: string;
  durationMs: number;
  check: boolean;
  phases: Phase[];
  hosts: HostSummary[];
  steps: StepRecord[];
}

export function summarize(host: string, records: StepRecord[], roundTrips: number, state: HostSummary['state'], error?: string): HostSummary {
  const mine = records.filter((r) => r.host === host && !r.controller);
  const count = (s: StepRecord['status']) => mine.filter((r) => r.status === s).length;
  return {
    host,
    ok: count('ok') + count('changed'),
    changed: count('changed'),
    failed: count('failed'),
    skipped: count('skipped'),
    unreachable: state === 'unreachable' ? 1 : 0,
    roundTrips,
    state,
    ...(error ? { error } : {}),
  };
}
