/** What the play loop and the handlers share: the request, the run's records, and the --forks slots. */
import type { Inventory } from '../inventory/types.js';
import type { Semaphore } from '../util/semaphore.js';
import { hostFailure, type HostFailure } from './host-run.js';
import type { Phase } from './phase.js';
import type { Play } from './playbook.js';
import type { RunEvents } from './reporter.js';
import type { RunLog } from './run-log.js';
import type { RunOptions } from './types.js';

export interface RunEnv {
  inventory: Inventory;
  phases: Phase[];
  options: RunOptions;
  events: RunEvents;
  projectDir: string;
  run: RunLog;
  forks: Semaphore;
}

/** A host's hold on one of the --forks slots; released while it waits for other hosts. */
export interface Slot {
  release: () => void;
}

/** The slot a host context runs in (handlers run in the slot of the context they were notified from). */
export const slotOf = new WeakMap<object, Slot>();

export async function withSlot<T>(env: RunEnv, work: (slot: Slot) => Promise<T>, slot: Slot = { release: () => {} }): Promise<T> {
  slot.release = await env.forks.acquire();
  try {
    return await work(slot);
  } finally {
    slot.release();
  }
}

/** Records a failure outside any role's step (planning, an unknown handler) on the host, and makes it the host's. */
export function failOutsideSteps(env: RunEnv, play: Play, phase: Phase, host: string, step: string, message: string): HostFailure {
  env.run.host(host).record({ host, play: play.name, phase, role: '', step, status: 'failed', changed: false, durationMs: 0, message });
  const failure = hostFailure(step, message);
  env.run.fail(host, failure);
  return failure;
}
