/**
 * The records of one run: a HostRun per target host, every record in the order it ended (the report's `steps`),
 * the run-once registry, and the one place the RunReport is built from them.
 */
import { Coordination } from './coordination.js';
import { HostRun, type HostFailure } from './host-run.js';
import type { Phase } from './phase.js';
import type { RunReport, StepRecord } from './records.js';
import type { RunEvents } from './reporter.js';
import { RunOnce } from './run-once.js';

export class RunLog {
  /** Every record (hosts' and the controller's), in the order they ended. */
  readonly steps: StepRecord[] = [];
  readonly hosts: Map<string, HostRun>;
  readonly runOnce = new RunOnce();
  /** Cross-host waits of this run; a wait on a host ends when the host fails (it asks isFailed). */
  readonly coordination = new Coordination((h) => this.isFailed(h));

  /** `targets`: the hosts of the run, in inventory order (the report's `hosts`). */
  constructor(
    readonly targets: string[],
    private readonly events: Pick<RunEvents, 'stepEnd'>,
  ) {
    const log = (r: StepRecord, announce: boolean) => {
      this.steps.push(r);
      if (announce) this.events.stepEnd(r);
    };
    this.hosts = new Map(targets.map((h) => [h, new HostRun(h, log)]));
  }

  host(name: string): HostRun {
    const h = this.hosts.get(name);
    if (!h) throw new Error(`internal: ${name} is not a host of this run`);
    return h;
  }

  /** Failed or unreachable so far (hosts outside the run: no). */
  isFailed(name: string): boolean {
    return (this.hosts.get(name)?.state ?? 'ok') !== 'ok';
  }

  /** The host's first failure becomes its state and error; hosts waiting on it stop waiting. */
  fail(name: string, failure: HostFailure): void {
    this.host(name).fail(failure);
    this.coordination.hostFailed();
  }

  /** A failure of the controller itself (host 'controller'): recorded once however many hosts hit it. */
  controllerFailure(r: StepRecord & { controller: true }): void {
    if (this.steps.some((s) => s.controller && s.message === r.message)) return;
    this.steps.push(r);
    this.events.stepEnd(r);
  }

  report(meta: { version: string; startedAt: Date; check: boolean; phases: Phase[] }): RunReport {
    return {
      version: meta.version,
      startedAt: meta.startedAt.toISOString(),
      durationMs: Date.now() - meta.startedAt.getTime(),
      check: meta.check,
      phases: meta.phases,
      hosts: this.targets.map((h) => this.host(h).summary()),
      steps: this.steps,
    };
  }
}
