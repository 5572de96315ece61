/** The plays in order, each in serial batches, each batch phase by phase with its handlers at the phase's end. */
import { redact } from '../secrets.js';
import { batchExceedsFailures, serialBatches } from './batches.js';
import { runHandlers } from './handlers.js';
import { makeHostContext } from './host-context.js';
import type { HostFailure } from './host-run.js';
import type { Phase } from './phase.js';
import { phaseUnits } from './phase-units.js';
import type { Play, Playbook } from './playbook.js';
import { failOutsideSteps, slotOf, withSlot, type RunEnv, type Slot } from './run-env.js';
import { errorMessage, runSteps } from './step-runner.js';
import type { PlayContext, RoleContext } from './types.js';

/** Runs every play on its hosts; stops after a play that max_fail_percentage ended (like Ansible, the whole run). */
export async function runPlays(playbook: Playbook, playHosts: Map<Play, string[]>, playVars: Map<Play, Map<string, Record<string, unknown>>>, env: RunEnv): Promise<void> {
  const { run, events } = env;
  for (const play of playbook.plays) {
    const all = playHosts.get(play)!;
    if (all.length === 0) continue;
    events.playStart(play.name, all);
    const playCtx: PlayContext = {
      name: play.name,
      hosts: all,
      inventory: env.inventory,
      facts: (h) => run.hosts.get(h)?.facts,
      transport: (h) => run.hosts.get(h)?.liveTransport,
      isFailed: (h) => run.isFailed(h),
      coordination: run.coordination,
      options: env.options,
      projectDir: env.projectDir,
    };
    let aborted = false;
    for (const batch of serialBatches(all, play.serial)) {
      aborted = await runBatch(play, batch, playCtx, playVars.get(play)!, env);
      if (aborted) break;
    }
    events.playEnd(play.name);
    if (aborted) return;
  }
}

/** Runs the requested phases of one play on one batch; true when the play must stop (max_fail_percentage). */
async function runBatch(play: Play, batch: string[], playCtx: PlayContext, vars: Map<string, Record<string, unknown>>, env: RunEnv): Promise<boolean> {
  const { run, events } = env;
  const live = () => batch.filter((h) => run.host(h).ok);
  const exceeded = () => batchExceedsFailures(batch.length - live().length, batch.length, play.maxFailPercentage);
  if (exceeded()) return true;
  // Notified handlers per host; they survive a phase when their runAt is later.
  const notified = new Map<string, Set<string>>(batch.map((h) => [h, new Set()]));
  const lastPhase = env.phases[env.phases.length - 1]!;
  let lastRun: { phase: Phase; contexts: Map<string, RoleContext<Record<string, unknown>>> } | undefined;
  for (const phase of env.phases) {
    if (!play.roles.some(({ role }) => role.phases[phase] || role.absent?.[phase])) continue;
    const phaseHosts = live();
    if (phaseHosts.length === 0) break;
    events.phaseStart(play.name, phase, phaseHosts);
    const contexts = new Map<string, RoleContext<Record<string, unknown>>>();
    lastRun = { phase, contexts };
    await Promise.all(
      phaseHosts.map((h) =>
        withSlot(env, async (slot) => {
          const ctx = makeContext(h, phase, playCtx, vars.get(h)!, env, batch, slot);
          contexts.set(h, ctx);
          let failure: HostFailure | undefined;
          try {
            const units = await phaseUnits(play, phase, ctx, env.options);
            failure = await runSteps(ctx, units, { play: play.name, phase, events, host: run.host(h), run, notify: (n) => notified.get(h)?.add(n) });
            if (failure) run.fail(h, failure);
          } catch (err) {
            failure = failOutsideSteps(env, play, phase, h, 'planning', errorMessage(err));
          }
          events.hostPhaseEnd(h, phase, failure !== undefined);
        }),
      ),
    );
    await runHandlers(play, phase, phase === lastPhase, contexts, notified, env);
    events.phaseEnd(play.name, phase);
    if (exceeded()) return true;
  }
  // Handlers deferred to a phase this play did not reach still run, once, before the play ends.
  if (lastRun && [...notified.values()].some((n) => n.size > 0)) await runHandlers(play, lastRun.phase, true, lastRun.contexts, notified, env);
  return false;
}

function makeContext(host: string, phase: Phase, play: PlayContext, vars: Record<string, unknown>, env: RunEnv, batch: string[], slot: Slot): RoleContext<Record<string, unknown>> {
  const h = env.run.host(host);
  const ctx = makeHostContext(
    {
      host,
      facts: () => h.facts!,
      transport: h.transport!,
      phase,
      play,
      batch,
      waitForOthers: async (wait) => {
        slot.release();
        try {
          return await wait();
        } finally {
          slot.release = await env.forks.acquire();
        }
      },
      progress: (line: string) => env.events.stepProgress(host, redact(line)),
    },
    vars,
  );
  slotOf.set(ctx, slot);
  return ctx;
}
