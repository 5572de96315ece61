import { z } from 'zod';
import { InputError, OptionsError, StepError, UnreachableError } from '../errors.js';
import type { HostFacts } from '../facts/host-facts.js';
import { gatherHostFacts } from '../facts/gather-host-facts.js';
import type { Inventory, InventoryHost } from '../inventory/types.js';
import { validateHostVars } from '../inventory/validate.js';
import { redact } from '../secrets.js';
import type { Transport } from '../transport/types.js';
import { Semaphore } from '../util/semaphore.js';
import { discardAtRunEnd } from './backups.js';
import { Coordination } from './coordination.js';
import { makeHostContext } from './host-context.js';
import { batchExceedsFailures, serialBatches } from './batches.js';
import { PHASES, type Phase } from './phase.js';
import type { Play, Playbook } from './playbook.js';
import { summarize, type RunReport, type StepRecord } from './records.js';
import type { RunEvents } from './reporter.js';
import { errorMessage, hostFailure, runSteps, type HostFailure, type StepUnit } from './step-runner.js';
import type { AnyZodObject, Handler, PlayContext, RoleContext, RunOptions } from './types.js';

export interface RunRequest {
  inventory: Inventory;
  playbook: Playbook;
  phases: Phase[];
  limit?: string;
  options: RunOptions;
  events: RunEvents;
  connect(host: InventoryHost): Promise<Transport>;
  version: string;
  projectDir: string;
}

interface HostState {
  transport?: Transport;
  facts?: HostFacts;
  state: 'ok' | 'failed' | 'unreachable';
  error?: string;
}

/** Every variable name some role of the playbook declares: typo detection compares against these. */
export function knownVarNames(playbook: Playbook): Set<string> {
  const names = new Set<string>();
  for (const play of playbook.plays) for (const { role } of play.roles) for (const k of Object.keys(role.vars.shape)) names.add(k);
  return names;
}

export function playSchema(play: Play): AnyZodObject {
  return play.roles.reduce<AnyZodObject>((s, { role }) => s.merge(role.vars) as AnyZodObject, z.object({}));
}

export function selectPlayHosts(inventory: Inventory, play: Play, limit: Set<string> | undefined): string[] {
  let hosts: string[];
  try {
    hosts = inventory.selectHosts(play.hosts);
  } catch (err) {
    if (err instanceof InputError) return []; // like Ansible: a play whose pattern matches nothing is skipped
    throw err;
  }
  return limit ? hosts.filter((h) => limit.has(h)) : hosts;
}

export async function runPlaybook(req: RunRequest): Promise<RunReport> {
  const startedAt = new Date();
  const { inventory, playbook, events, options } = req;
  let limit: Set<string> | undefined;
  if (req.limit) {
    try {
      limit = new Set(inventory.selectHosts(req.limit));
    } catch (err) {
      throw new OptionsError(`--limit ${req.limit}: ${(err as Error).message}`);
    }
  }
  const playHosts = new Map(playbook.plays.map((p) => [p, selectPlayHosts(inventory, p, limit)]));
  const targets = inventory.hostOrder.filter((h) => [...playHosts.values()].some((hs) => hs.includes(h)));
  if (targets.length === 0) throw new OptionsError('no hosts to run on: the inventory, the plays and --limit leave nothing');

  // Validate every host's variables before touching any host: bad input never half-provisions.
  const known = knownVarNames(playbook);
  const playVars = new Map<Play, Map<string, Record<string, unknown>>>();
  for (const play of playbook.plays) {
    const schema = playSchema(play);
    const vars = new Map<string, Record<string, unknown>>();
    for (const h of playHosts.get(play)!) vars.set(h, validateHostVars(inventory.hosts.get(h)!, schema, { inventoryFile: inventory.files[0]!, knownNames: known }));
    playVars.set(play, vars);
  }

  const records: StepRecord[] = [];
  const hosts = new Map<string, HostState>(targets.map((h) => [h, { state: 'ok' }]));
  const forks = new Semaphore(options.forks);
  events.connectStart(targets);
  await Promise.all(
    targets.map((name) =>
      forks.with(async () => {
        const st = hosts.get(name)!;
        const started = Date.now();
        try {
          st.transport = await req.connect(inventory.hosts.get(name)!);
          st.facts = await gatherHostFacts(st.transport);
          // Steps are planned as root: as any other user a run fails half-way and --check reports what it could never do.
          if (st.facts.user !== 'root') throw new StepError(`commands run as '${st.facts.user}', not root: set ansible_become: true (or connect as root)`);
          events.hostConnected(name, `${st.facts.os.pretty}, ${st.facts.primaryAddress}`);
        } catch (err) {
          const message = errorMessage(err, name);
          st.state = !st.transport || err instanceof UnreachableError ? 'unreachable' : 'failed';
          st.error = message;
          const r: StepRecord = { host: name, play: '', kind: 'connect', role: '', step: 'connect and gather facts', status: st.state === 'unreachable' ? 'unreachable' : 'failed', changed: false, durationMs: Date.now() - started, message };
          records.push(r);
          events.hostConnectFailed(name, message, st.state);
        }
      }),
    ),
  );

  const coordination = new Coordination((h) => (hosts.get(h)?.state ?? 'ok') !== 'ok');
  const runOnce = new Map<string, string>();
  try {
    plays: for (const play of playbook.plays) {
      const all = playHosts.get(play)!;
      if (all.length === 0) continue;
      events.playStart(play.name, all);
      const playCtx: PlayContext = {
        name: play.name,
        hosts: all,
        inventory,
        facts: (h) => hosts.get(h)?.facts,
        transport: (h) => (hosts.get(h)?.state === 'ok' ? hosts.get(h)?.transport : undefined),
        isFailed: (h) => (hosts.get(h)?.state ?? 'ok') !== 'ok',
        coordination,
        options,
        projectDir: req.projectDir,
      };
      for (const batch of serialBatches(all, play.serial)) {
        const aborted = await runBatch(play, batch, playCtx, playVars.get(play)!, { req, hosts, records, forks, runOnce, coordination });
        // Like Ansible: a play stopped by max_fail_percentage ends the whole run.
        if (aborted) {
          events.playEnd(play.name);
          break plays;
        }
      }
      events.playEnd(play.name);
    }
    // Backup copies are meaningful only during the run that wrote them (src/engine/backups.ts).
    await discardAtRunEnd({ coordination, check: options.check, phase: req.phases.at(-1)!, transport: (h) => (hosts.get(h)?.state === 'ok' ? hosts.get(h)?.transport : undefined), records, events });
  } finally {
    await Promise.all([...hosts.values()].map((s) => s.transport?.close()));
  }

  const report: RunReport = {
    version: req.version,
    startedAt: startedAt.toISOString(),
    durationMs: Date.now() - startedAt.getTime(),
    check: options.check,
    phases: req.phases,
    hosts: targets.map((h) => {
      const s = hosts.get(h)!;
      return summarize(h, records, s.transport?.roundTrips ?? 0, s.state, s.error);
    }),
    steps: records,
  };
  events.runEnd(report);
  return report;
}

interface BatchEnv {
  req: RunRequest;
  hosts: Map<string, HostState>;
  records: StepRecord[];
  forks: Semaphore;
  runOnce: Map<string, string>;
  coordination: Coordination;
}

/** Runs the requested phases of one play on one batch; true when the play must stop (max_fail_percentage). */
async function runBatch(play: Play, batch: string[], playCtx: PlayContext, vars: Map<string, Record<string, unknown>>, env: BatchEnv): Promise<boolean> {
  const { req, hosts } = env;
  const live = () => batch.filter((h) => hosts.get(h)!.state === 'ok');
  const exceeded = () => batchExceedsFailures(batch.length - live().length, batch.length, play.maxFailPercentage);
  if (exceeded()) return true;
  // Notified handlers per host; they survive a phase when their runAt is later.
  const notified = new Map<string, Set<string>>(batch.map((h) => [h, new Set()]));
  const lastPhase = req.phases[req.phases.length - 1]!;
  let lastRun: { phase: Phase; contexts: Map<string, RoleContext<Record<string, unknown>>> } | undefined;
  for (const phase of req.phases) {
    if (!play.roles.some(({ role }) => role.phases[phase] || role.absent?.[phase])) continue;
    const phaseHosts = live();
    if (phaseHosts.length === 0) break;
    req.events.phaseStart(play.name, phase, phaseHosts);
    const contexts = new Map<string, RoleContext<Record<string, unknown>>>();
    lastRun = { phase, contexts };
    await Promise.all(
      phaseHosts.map((h) =>
        withSlot(env, async (slot) => {
          const ctx = makeContext(h, phase, playCtx, vars.get(h)!, env, batch, slot);
          contexts.set(h, ctx);
          let failure: HostFailure | undefined;
          try {
            const units = await phaseUnits(play, phase, ctx, req.options);
            failure = await runSteps(ctx, units, stepEnv(play, phase, h, notified, env));
          } catch (err) {
            failure = failHost(env, play, phase, h, 'planning', errorMessage(err));
          }
          if (failure) markFailed(env, h, failure);
          req.events.hostPhaseEnd(h, phase, failure !== undefined);
        }),
      ),
    );
    await runHandlers(play, phase, phase === lastPhase, contexts, notified, env);
    req.events.phaseEnd(play.name, phase);
    if (exceeded()) return true;
  }
  // Handlers deferred to a phase this play did not reach still run, once, before the play ends.
  if (lastRun && [...notified.values()].some((n) => n.size > 0)) await runHandlers(play, lastRun.phase, true, lastRun.contexts, notified, env);
  return false;
}

/** `state: absent` on a host: it is being taken out of service, and roles run their removal steps instead. */
export function isAbsent(host: { vars: Record<string, unknown> }): boolean {
  return host.vars.state === 'absent';
}

/** The steps a host runs in a phase, filtered by --tags/--skip-tags (absent hosts: the roles' removal steps). */
export async function phaseUnits(play: Play, phase: Phase, ctx: RoleContext<Record<string, unknown>>, options: Pick<RunOptions, 'tags' | 'skipTags'>): Promise<StepUnit[]> {
  const units: StepUnit[] = [];
  for (const { role, tags } of play.roles) {
    const build = isAbsent(ctx.host) ? role.absent?.[phase] : role.phases[phase];
    if (!build) continue;
    for (const step of await build(ctx as never)) {
      const stepTags = new Set([...(step.tags ?? []), ...tags, role.name, phase]);
      if (options.tags.length && !options.tags.some((t) => stepTags.has(t))) continue;
      if (options.skipTags.some((t) => stepTags.has(t))) continue;
      units.push({ step, role: role.name, tags: [...stepTags] });
    }
  }
  return units;
}

function stepEnv(play: Play, phase: Phase, host: string, notified: Map<string, Set<string>>, env: BatchEnv) {
  return {
    play: play.name,
    phase,
    events: env.req.events,
    records: env.records,
    runOnce: env.runOnce,
    notify: (handler: string) => notified.get(host)?.add(handler),
    setFacts: (f: HostFacts) => {
      env.hosts.get(host)!.facts = f;
    },
  };
}

/** A host's hold on one of the --forks slots; released while it waits for other hosts. */
interface Slot {
  release: () => void;
}
const slotOf = new WeakMap<object, Slot>();

async function withSlot<T>(env: BatchEnv, work: (slot: Slot) => Promise<T>, slot: Slot = { release: () => {} }): Promise<T> {
  slot.release = await env.forks.acquire();
  try {
    return await work(slot);
  } finally {
    slot.release();
  }
}

function makeContext(host: string, phase: Phase, play: PlayContext, vars: Record<string, unknown>, env: BatchEnv, batch: string[], slot: Slot): RoleContext<Record<string, unknown>> {
  const st = env.hosts.get(host)!;
  const ctx = makeHostContext({
    host,
    facts: () => st.facts!,
    transport: st.transport!,
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
    progress: (line: string) => env.req.events.stepProgress(host, redact(line)),
  }, vars);
  slotOf.set(ctx, slot);
  return ctx;
}

/** The host's first failure becomes its state and error (the step loop says what it was; the records are not read back). */
function markFailed(env: BatchEnv, host: string, failure: HostFailure): void {
  const st = env.hosts.get(host)!;
  if (st.state === 'ok') st.state = failure.state;
  st.error ??= failure.error;
  env.coordination.hostFailed(); // hosts waiting on this one stop waiting
}

/** Records a failure outside any role's step and returns it for markFailed. */
function failHost(env: BatchEnv, play: Play, phase: Phase, host: string, step: string, message: string): HostFailure {
  const r: StepRecord = { host, play: play.name, phase, role: '', step, status: 'failed', changed: false, durationMs: 0, message };
  env.records.push(r);
  env.req.events.stepEnd(r);
  return hostFailure(step, message);
}

/** Notified handlers run once per host at the end of the phase, in the order the roles define them. */
async function runHandlers(play: Play, phase: Phase, last: boolean, contexts: Map<string, RoleContext<Record<string, unknown>>>, notified: Map<string, Set<string>>, env: BatchEnv): Promise<void> {
  const defined: { name: string; role: string; handler: Handler<Record<string, unknown>> }[] = [];
  for (const { role } of play.roles) for (const [name, handler] of Object.entries(role.handlers ?? {})) defined.push({ name, role: role.name, handler: handler as Handler<Record<string, unknown>> });
  for (const [host, names] of notified)
    for (const n of names)
      if (!defined.some((d) => d.name === n)) {
        markFailed(env, host, failHost(env, play, phase, host, `notify ${n}`, `no role of play '${play.name}' defines a handler named '${n}'`));
      }

  const runOne = async (host: string, d: (typeof defined)[number]): Promise<boolean> => {
    const ctx = contexts.get(host)!;
    const units = (await d.handler.steps(ctx)).map((step): StepUnit => ({ step, role: d.role, kind: 'handler' }));
    const failure = await runSteps(ctx, units, stepEnv(play, phase, host, notified, env));
    if (failure) markFailed(env, host, failure);
    return failure === undefined;
  };
  for (const d of defined) {
    const due = last || !d.handler.runAt || PHASES.indexOf(d.handler.runAt) <= PHASES.indexOf(phase);
    if (!due) continue;
    const wanting = [...notified].filter(([h, names]) => names.has(d.name) && contexts.has(h) && env.hosts.get(h)!.state === 'ok').map(([h]) => h);
    for (const names of notified.values()) names.delete(d.name);
    if (wanting.length === 0) continue;
    if (!d.handler.rolling) {
      await Promise.all(wanting.map((h) => withSlot(env, () => runOne(h, d), slotOf.get(contexts.get(h)!))));
      continue;
    }
    // Rolling: one host at a time, in play order; the first failure stops the rollout.
    let stoppedBy: string | undefined;
    const queue = env.req.inventory.hostOrder.filter((x) => wanting.includes(x));
    for (const [i, h] of queue.entries()) {
      // The hosts still in the queue say whose turn it is: the progress must not look like a parallel restart.
      if (!stoppedBy) for (const next of queue.slice(i + 1)) env.req.events.stepProgress(next, `waiting for its turn (${d.name}: ${h} now, ${i + 1} of ${queue.length})`);
      if (stoppedBy) {
        const r: StepRecord = { host: h, play: play.name, phase, role: d.role, kind: 'handler', step: d.name, status: 'skipped', changed: false, durationMs: 0, message: `rollout stopped: ${stoppedBy} failed${d.handler.revert ? '; change reverted on this host' : ''}` };
        env.records.push(r);
        env.req.events.stepEnd(r);
        if (d.handler.revert) {
          const ctx = contexts.get(h)!;
          const units = (await d.handler.revert(ctx)).map((step): StepUnit => ({ step, role: d.role, kind: 'revert' }));
          const failure = await withSlot(env, () => runSteps(ctx, units, stepEnv(play, phase, h, notified, env)), slotOf.get(ctx));
          if (failure) markFailed(env, h, failure);
        }
        continue;
      }
      if (!(await withSlot(env, () => runOne(h, d), slotOf.get(contexts.get(h)!)))) stoppedBy = h;
    }
  }
}
