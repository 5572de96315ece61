import type { Phase } from './phase.js';

export type StepStatus = 'ok' | 'changed' | 'failed' | 'skipped' | 'unreachable';

/** What a record is of, when not a role's own step: the connection, a notified handler, a stopped rollout's revert. */
export type RecordKind = 'connect' | 'handler' | 'revert';

export interface StepRecord {
  host: string;
  play: string;
  /** The phase the step ran in; absent for the connection (made before any phase). */
  phase?: Phase;
  /** Absent: a step of a role's phase. */
  kind?: RecordKind;
  /** The role the step (or handler, or revert) belongs to; '' for the connection and engine checks. */
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
  /** Set when the run died of an internal error: the report holds what was done until then. */
  interrupted?: string;
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

/** How a record's origin reads in output: `mosquitto_config`, `mosquitto_config (handler)`. */
export function roleLabel(r: Pick<StepRecord, 'role' | 'kind'>): string {
  return r.kind === 'handler' || r.kind === 'revert' ? `${r.role} (${r.kind})` : r.role;
}
