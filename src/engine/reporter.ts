import type { Phase } from './phase.js';
import type { RunReport, StepRecord } from './records.js';

/** What the runner tells the outside world; renderers (listr, plain lines, JSON) listen. */
export interface RunEvents {
  connectStart(hosts: string[]): void;
  hostConnected(host: string, summary: string): void;
  /** The connection or its first commands failed: unreachable (no SSH session) or failed (e.g. sudo refused). */
  hostConnectFailed(host: string, message: string, state: 'unreachable' | 'failed'): void;
  playStart(play: string, hosts: string[]): void;
  phaseStart(play: string, phase: Phase, hosts: string[]): void;
  stepStart(host: string, phase: Phase, role: string, step: string): void;
  stepProgress(host: string, line: string): void;
  stepEnd(record: StepRecord): void;
  hostPhaseEnd(host: string, phase: Phase, failed: boolean): void;
  phaseEnd(play: string, phase: Phase): void;
  playEnd(play: string): void;
  runEnd(report: RunReport): void;
}

export type Reporter = Partial<RunEvents>;

export function fanOut(reporters: Reporter[]): RunEvents {
  const handler: ProxyHandler<RunEvents> = {
    get: (_t, prop: string) => (...args: unknown[]) => {
      for (const r of reporters) (r as Record<string, ((...a: unknown[]) => void) | undefined>)[prop]?.(...args);
    },
  };
  return new Proxy({} as RunEvents, handler);
}
