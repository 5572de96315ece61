/**
 * The plays in playbook order (./play-order.ts: a play's build phase starts as soon as its hosts are free, its later
 * phases once every earlier play ended), each in serial batches, each batch phase by phase with its handlers at the
 * phase's end.
 */
import { StepError } from '../errors.js';
import { redact } from '../secrets.js';
import { batchExceedsFailures, serialBatches } from './batches.js';
import { runHandlers } from './handlers.js';
import { makeHostContext } from './host-context.js';
import type { HostFailure } from './host-run.js';
import type { Phase } from './phase.js';
import { phaseUnits } from './phase-units.js';
import { buildStartsEarly, PlayOrder, type PlayTurn } from './play-order.js';
import type { Play, Playbook } from './playbook.js';
import { failOutsideSteps, slotOf, withSlot, type RunEnv, type Slot } from './run-env.js';
import { errorMessage, runSteps } from './step-runner.js';
import type { PlayContext, RoleContext } from './types.js';

/** Runs every play on its hosts; a play that max_fail_percentage ended stops the plays after it (like Ansible, the run). */
export async function runPlays(playbook: Playbook, playHosts: Map<Play, string[]>, playVars: Map<Play, Map<string, Record<string, unknown>>>, env: RunEnv): Promise<void> {
  const order = new PlayOrder();
  for (const play of playbook.plays) {
    const hosts = playHosts.get(play)!;
    if (hosts.length === 0) continue;
    order.schedule(hosts, buildStartsEarly(play, env.phases), (turn) => runPlay(play, hosts, playVars.get(play)!, env, turn, order));
  }
  await order.finished();
}

async function runPlay(play: Play, all: string[], vars: Map<string, Record<string, unknown>>, env: RunEnv, turn: PlayTurn, order: PlayOrder): Promise<void> {
  const { run, events } = env;
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
  // The build phase needs only the play's hosts (free, or the play would not have started); every other phase
  // waits for the earlier plays to end. Nothing starts once an earlier play stopped the run.
  const mayStart = async (phase: Phase) => {
    if (phase !== 'build') await turn.earlierEnded;
    return !order.stops(turn.index);
  };
  for (const batch of serialBatches(all, play.serial)) {
    const outcome = await runBatch(play, batch, playCtx, vars, env, mayStart);
    if (outcome === 'aborted') order.stop(turn.index);
    if (outcome !== 'done') break;
  }
  events.playEnd(play.name);
}

/**
 * Runs the requested phases of one play on one batch: 'aborted' when max_fail_percentage ends the play, 'stopped'
 * when an earlier play stopped the run before one of this batch's phases could start.
 */
async function runBatch(
  play: Play, batch: string[], playCtx: PlayContext, vars: Map<string, Record<string, unknown>>, env: RunEnv, mayStart: (phase: Phase) => Promise<boolean>,
): Promise<'done' | 'aborted' | 'stopped'> {
  const { run, events } = env;
  const live = () => batch.filter((h) => run.host(h).ok);
  const exceeded = () => batchExceedsFailures(batch.length - live().length, batch.length, play.maxFailPercentage);
  if (exceeded()) return 'aborted';
  // Notified handlers per host; they survive a phase when their runAt is later.
  const notified = new Map<string, Set<string>>(batch.map((h) => [h, new Set()]));
  const lastPhase = env.phases[env.phases.length - 1]!;
  let lastRun: { phase: Phase; contexts: Map<string, RoleContext<Record<string, unknown>>> } | undefined;
  for (const phase of env.phases) {
    if (!play.roles.some(({ role }) => role.phases[phase] || role.absent?.[phase])) continue;
    if (!(await mayStart(phase))) return 'stopped';
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
    if (exceeded()) return 'aborted';
  }
  // Handlers deferred to a phase this play did not reach still run, once, before the play ends.
  if (lastRun && [...notified.values()].some((n) => n.size > 0)) await runHandlers(play, lastRun.phase, true, lastRun.contexts, notified, env);
  return 'done';
}

function makeContext(host: string, phase: Phase, play: PlayContext, vars: Record<string, unknown>, env: RunEnv, batch: string[], slot: Slot): RoleContext<Record<string, unknown>> {
  const h = env.run.host(host);
  const ctx = makeHostContext(
    {
      host,
      facts: () => h.facts!,
      transport: h.transport!,
      phase,
      // The build phase may run beside an earlier play (./play-order.ts): it must not use other hosts.
      play: phase === 'build' ? hostLocal(play, host) : play,
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

/** The play as the build phase sees it: only its own host's connection (other hosts may be in an earlier play). */
function hostLocal(play: PlayContext, host: string): PlayContext {
  return {
    ...play,
    transport: (h) => {
      if (h === host) return play.transport(h);
      throw new StepError(`the build phase is host-local: ${host}'s build steps cannot use ${h}'s connection (${h} may still be in an earlier play); do this in the configure phase or later`);
    },
  };
}
