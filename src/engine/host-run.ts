/**
 * One record per host of a run: its state, first error, connection, facts and the records of its steps. The
 * connect step and the step loop write it; the report reads it (host summaries) — the report is never read back
 * to decide a host's state.
 */
import type { HostFacts } from '../facts/host-facts.js';
import type { Transport } from '../transport/types.js';
import { summarize, type HostSummary, type StepRecord } from './records.js';

export type HostState = HostSummary['state'];

/** Why a host stopped its own steps: what becomes its state and error. */
export interface HostFailure {
  state: 'failed' | 'unreachable';
  /** `role: step: message`, for the recap. */
  error: string;
}

/** A failure not tied to a step of a role (planning, a handler no role defines). */
export function hostFailure(step: string, message: string, role = ''): HostFailure {
  return { state: 'failed', error: `${role ? `${role}: ` : ''}${step}: ${message}` };
}

export class HostRun {
  state: HostState = 'ok';
  error?: string;
  transport?: Transport;
  facts?: HostFacts;
  /** This host's records, in the order its steps ended. */
  readonly records: StepRecord[] = [];

  /** `log`: the run's list of every record in order (the report's `steps`) and the renderers. */
  constructor(
    readonly name: string,
    private readonly log: (r: StepRecord, announce: boolean) => void,
  ) {}

  get ok(): boolean {
    return this.state === 'ok';
  }

  /** The connection while the host is healthy: what other hosts' cross-checks and the run-end cleanup may use. */
  get liveTransport(): Transport | undefined {
    return this.ok ? this.transport : undefined;
  }

  /** A step of this host ended. `announce: false`: the caller tells the renderers itself (a failed connection). */
  record(r: StepRecord, announce = true): void {
    this.records.push(r);
    this.log(r, announce);
  }

  /** The host's first failure becomes its state and error; later ones only add records. */
  fail(f: HostFailure): void {
    if (this.state === 'ok') this.state = f.state;
    this.error ??= f.error;
  }

  summary(): HostSummary {
    return summarize(this.name, this.records, this.transport?.roundTrips ?? 0, this.state, this.error);
  }
}
