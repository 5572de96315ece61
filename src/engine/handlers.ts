/** Notified handlers: once per host at the end of a phase (or of their runAt phase), plain or rolling with revert. */
import { PHASES, type Phase } from './phase.js';
import { stepUnit, type StepUnit } from './phase-units.js';
import type { Play } from './playbook.js';
import { failOutsideSteps, slotOf, withSlot, type RunEnv } from './run-env.js';
import { runSteps, type StepRunEnv } from './step-runner.js';
import type { Handler, RoleContext } from './types.js';

interface DefinedHandler {
  name: string;
  role: string;
  handler: Handler<Record<string, unknown>>;
}

/** Notified handlers run once per host at the end of the phase, in the order the roles define them. */
export async function runHandlers(play: Play, phase: Phase, last: boolean, contexts: Map<string, RoleContext<Record<string, unknown>>>, notified: Map<string, Set<string>>, env: RunEnv): Promise<void> {
  const { run, events } = env;
  const defined: DefinedHandler[] = [];
  for (const { role } of play.roles) for (const [name, handler] of Object.entries(role.handlers ?? {})) defined.push({ name, role: role.name, handler: handler as Handler<Record<string, unknown>> });
  for (const [host, names] of notified)
    for (const n of names) if (!defined.some((d) => d.name === n)) failOutsideSteps(env, play, phase, host, `notify ${n}`, `no role of play '${play.name}' defines a handler named '${n}'`);

  const stepEnv = (host: string): StepRunEnv => ({ play: play.name, phase, events, host: run.host(host), run, notify: (n) => notified.get(host)?.add(n) });
  const runUnits = async (host: string, units: StepUnit[]): Promise<boolean> => {
    const failure = await runSteps(contexts.get(host)!, units, stepEnv(host));
    if (failure) run.fail(host, failure);
    return failure === undefined;
  };
  const runOne = async (host: string, d: DefinedHandler): Promise<boolean> =>
    runUnits(host, (await d.handler.steps(contexts.get(host)!)).map((step) => stepUnit(step, d.role, phase, { kind: 'handler' })));

  for (const d of defined) {
    const due = last || !d.handler.runAt || PHASES.indexOf(d.handler.runAt) <= PHASES.indexOf(phase);
    if (!due) continue;
    const wanting = [...notified].filter(([h, names]) => names.has(d.name) && contexts.has(h) && run.host(h).ok).map(([h]) => h);
    for (const names of notified.values()) names.delete(d.name);
    if (wanting.length === 0) continue;
    if (!d.handler.rolling) {
      await Promise.all(wanting.map((h) => withSlot(env, () => runOne(h, d), slotOf.get(contexts.get(h)!))));
      continue;
    }
    // Rolling: one host at a time, in play order; the first failure stops the rollout.
    let stoppedBy: string | undefined;
    const queue = env.inventory.hostOrder.filter((x) => wanting.includes(x));
    for (const [i, h] of queue.entries()) {
      // The hosts still in the queue say whose turn it is: the progress must not look like a parallel restart.
      if (!stoppedBy) for (const next of queue.slice(i + 1)) events.stepProgress(next, `waiting for its turn (${d.name}: ${h} now, ${i + 1} of ${queue.length})`);
      if (stoppedBy) {
        const message = `rollout stopped: ${stoppedBy} failed${d.handler.revert ? '; change reverted on this host' : ''}`;
        run.host(h).record({ host: h, play: play.name, phase, role: d.role, kind: 'handler', step: d.name, status: 'skipped', changed: false, durationMs: 0, message });
        if (d.handler.revert) {
          const ctx = contexts.get(h)!;
          const units = (await d.handler.revert(ctx)).map((step) => stepUnit(step, d.role, phase, { kind: 'revert' }));
          await withSlot(env, () => runUnits(h, units), slotOf.get(ctx));
        }
        continue;
      }
      if (!(await withSlot(env, () => runOne(h, d), slotOf.get(contexts.get(h)!)))) stoppedBy = h;
    }
  }
}
