import type { Phase } from './phase.js';
import { summarize, type HostSummary, type RunReport, type StepRecord } from './records.js';
import type { Reporter } from './reporter.js';

/**
 * Keeps what a run reported so far, so a run that dies of an internal error can still print its recap and
 * write its --json report: every step that ended, and every host that was connected to.
 */
export interface RunRecorder extends Reporter {
  /** True once hosts are being connected to: from then on the run has touched something. */
  readonly touched: boolean;
  report(interrupted: string): RunReport;
}

export function runRecorder(meta: { version: string; check: boolean; phases: Phase[] }): RunRecorder {
  const startedAt = new Date();
  let targets: string[] = [];
  let touched = false;
  const steps: StepRecord[] = [];
  return {
    get touched() {
      return touched;
    },
    connectStart: (hosts) => {
      touched = true;
      targets = hosts;
    },
    stepEnd: (r) => steps.push(r),
    // Connect failures are records the runner keeps to itself until the end; the event carries the same.
    hostConnectFailed: (host, message, state) => steps.push({ host, play: '', kind: 'connect', role: '', step: 'connect and gather facts', status: state, changed: false, durationMs: 0, message }),
    report: (interrupted) => ({
      version: meta.version,
      startedAt: startedAt.toISOString(),
      durationMs: Date.now() - startedAt.getTime(),
      check: meta.check,
      phases: meta.phases,
      hosts: targets.map((h) => summarize(h, steps, 0, stateOf(h, steps), lastProblem(h, steps))),
      steps,
      interrupted,
    }),
  };
}

function stateOf(host: string, steps: StepRecord[]): HostSummary['state'] {
  const mine = steps.filter((s) => s.host === host);
  if (mine.some((s) => s.status === 'unreachable')) return 'unreachable';
  return mine.some((s) => s.status === 'failed') ? 'failed' : 'ok';
}

function lastProblem(host: string, steps: StepRecord[]): string | undefined {
  const r = [...steps].reverse().find((s) => s.host === host && (s.status === 'failed' || s.status === 'unreachable'));
  return r ? `${r.role ? `${r.role}: ` : ''}${r.step}: ${r.message ?? r.status}` : undefined;
}
