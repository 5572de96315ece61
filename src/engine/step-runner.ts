import { CommandError, ControllerError, ProvisionError, UnreachableError } from '../errors.js';
import { gatherHostFacts } from '../facts/gather-host-facts.js';
import { redact } from '../secrets.js';
import { batchable } from './action-batch.js';
import { gatherFacts } from './fact-batch.js';
import { hostFailure, type HostFailure, type HostRun } from './host-run.js';
import type { Phase } from './phase.js';
import type { StepUnit } from './phase-units.js';
import { QueuedSteps, type Queued } from './queued-steps.js';
import { roleLabel, type StepRecord } from './records.js';
import type { RunEvents } from './reporter.js';
import type { RunLog } from './run-log.js';
import type { Change, FactQuery, FactResults, HostContext, RemoteAction, Step } from './types.js';

// Moved beside what they describe; re-exported here for the callers that import them from the step runner.
export { hostFailure, type HostFailure } from './host-run.js';
export type { StepUnit } from './phase-units.js';

export interface StepRunEnv {
  play: string;
  phase: Phase;
  events: Pick<RunEvents, 'stepStart'>;
  /** The host's run record: its step records, and its facts when a step refreshes them. */
  host: HostRun;
  /** Run-wide: who ran each run-once step, the controller's failures (recorded once). */
  run: Pick<RunLog, 'runOnce' | 'controllerFailure'>;
  notify(handler: string): void;
}

const NO_FACTS: FactResults = {
  get() {
    throw new Error('no facts were gathered for this step');
  },
};

/** Runs steps on one host in order; stops at the first failure and returns it (undefined: all steps passed). */
export async function runSteps(ctx: HostContext, units: StepUnit[], env: StepRunEnv): Promise<HostFailure | undefined> {
  let facts: FactResults = NO_FACTS;
  let stale = true;
  // Paths changed since the facts were gathered; a later step whose facts name one of them re-gathers.
  let touched: string[] = [];
  // Steps planned whose actions (and the records after them) wait to travel in one exchange with the next ones'.
  const queue = new QueuedSteps(ctx);
  for (let i = 0; i < units.length; i++) {
    const { step, role, kind, id } = units[i]!;
    const started = Date.now();
    const record = (status: StepRecord['status'], extra: Partial<StepRecord> = {}) => {
      const r: StepRecord = { host: ctx.name, play: env.play, phase: env.phase, ...(kind ? { kind } : {}), role, step: redact(step.name), status, changed: status === 'changed', durationMs: Date.now() - started, ...extra };
      if (r.message) r.message = redact(r.message);
      env.host.record(r);
    };
    const label = roleLabel({ role, kind });
    const fail = (err: unknown, extra: Partial<StepRecord> = {}) => stepFailure(env, ctx, role, label, step.name, err, (status, e) => record(status, { ...e, ...extra }));
    // A queued step's record waits for the steps queued before it (records keep step order); its duration is its
    // planning time plus its own actions' time on the host.
    const queued = (done: (ms: number) => void, changes?: Change[]): Queued => {
      const planMs = Date.now() - started;
      return { changes, done: (ms) => done(planMs + ms), fail: (err, ms) => fail(err, { durationMs: planMs + ms }) };
    };
    const end = (status: StepRecord['status'], extra: Partial<StepRecord> = {}) => (queue.empty ? record(status, extra) : queue.push(queued((durationMs) => record(status, { ...extra, durationMs }))));
    env.events.stepStart(ctx.name, env.phase, label, redact(step.name));
    try {
      const owner = step.runOnce ? env.run.runOnce.claim(env.play, id, ctx.name) : undefined;
      if (owner !== undefined) {
        end('skipped', { message: `ran once on ${owner}` });
        continue;
      }
      const outdated = touched.length > 0 && (step.facts ?? []).some((q) => staleAfterWrites(q, touched));
      const gather = (stale || outdated) && Boolean(step.facts?.length);
      // A plan that may read the host (or wait for others) must see the queued steps' work done, as must fresh facts.
      if (gather || !step.factsOnly) {
        const failed = await queue.send();
        if (failed) return failed;
      }
      if (gather) {
        // Prefetch the facts of this and every later step: a phase with nothing to do costs one round trip.
        facts = await gatherFacts(ctx.transport, units.slice(i).flatMap((u) => u.step.facts ?? []));
        stale = false;
        touched = [];
      }
      const plan = await step.plan(ctx, facts);
      if ('skip' in plan) {
        end('skipped', { message: plan.skip });
        continue;
      }
      if (plan.changes.length === 0) {
        end('ok', plan.message ? { message: plan.message } : {});
        continue;
      }
      const summaries = plan.changes.map((c) => redact(c.summary));
      const diff = plan.changes.map((c) => c.diff).filter(Boolean).join('\n');
      const changed = (extra: Partial<StepRecord> = {}) => {
        for (const h of step.notify ?? []) env.notify(h);
        record('changed', { changes: summaries, ...(diff ? { diff: redact(diff) } : {}), ...(plan.message ? { message: plan.message } : {}), ...extra });
      };
      if (ctx.check) {
        changed();
        continue;
      }
      const knownWrites = plan.changes.every((c) => c.affects) && !step.verify && !step.refreshesHostFacts;
      if (queueable(step, plan.changes)) {
        queue.push(queued((durationMs) => changed({ durationMs }), plan.changes));
        if (knownWrites) {
          touched.push(...plan.changes.flatMap((c) => c.affects!));
          continue;
        }
        // A change that may alter any fact closes the exchange; the next step with facts gathers them afresh.
        stale = true;
        const failed = await queue.send();
        if (failed) return failed;
        continue;
      }
      const failed = await queue.send();
      if (failed) return failed;
      const messages: string[] = [];
      for (const change of plan.changes) {
        const m = await applyChange(ctx, change);
        if (m) messages.push(m);
      }
      if (knownWrites) touched.push(...plan.changes.flatMap((c) => c.affects!));
      else stale = true;
      await step.verify?.(ctx);
      if (step.refreshesHostFacts) env.host.facts = await gatherHostFacts(ctx.transport);
      if (messages.length) plan.message = [plan.message, ...messages].filter(Boolean).join('; ');
      changed();
    } catch (err) {
      // The steps queued before this one ran before it, in order: their failure comes first.
      return (await queue.send()) ?? fail(err);
    }
  }
  return queue.send();
}

/** Records a step's failure (a controller failure once, as the controller's) and returns what stops the host. */
function stepFailure(env: StepRunEnv, ctx: HostContext, role: string, label: string, name: string, err: unknown, record: (status: StepRecord['status'], extra?: Partial<StepRecord>) => void): HostFailure {
  if (err instanceof ControllerError) {
    recordControllerFailure(env, role, redact(name), err);
    const message = `the controller's ${err.what} failed (reported once, as the controller's)`;
    record('failed', { message });
    return hostFailure(redact(name), message, label);
  }
  const state = err instanceof UnreachableError ? 'unreachable' : 'failed';
  const message = errorMessage(err, ctx.name);
  record(state, { message });
  return { ...hostFailure(redact(name), message, label), state };
}

/** May this step's changes wait to be sent with the next steps'? Remote scripts only, nothing to run after them. */
function queueable(step: Step, changes: Change[]): boolean {
  return Boolean(step.factsOnly) && !step.verify && !step.refreshesHostFacts && changes.every((c) => !c.apply && (c.actions ?? []).every(batchable));
}

/** The first host to hit a controller failure records it (host 'controller'); the others only point at it. */
function recordControllerFailure(env: StepRunEnv, role: string, step: string, err: ControllerError): void {
  env.run.controllerFailure({ host: 'controller', play: env.play, phase: env.phase, role, step, status: 'failed', changed: false, durationMs: 0, message: errorMessage(err), controller: true });
}

/** Would writing `written` change this fact? As the fact declares (FactQuery.staleAfter); undeclared: yes. */
export function staleAfterWrites(q: FactQuery<unknown>, written: readonly string[]): boolean {
  const s = q.staleAfter;
  if (s === undefined) return true;
  if (s === 'files-never') return false;
  if ('paths' in s) return written.some((p) => s.paths.includes(p));
  const dir = s.under.endsWith('/') ? s.under : `${s.under}/`;
  return written.some((p) => p === s.under || p.startsWith(dir));
}

async function applyChange(ctx: HostContext, change: Change): Promise<string | void> {
  for (const action of change.actions ?? []) await runAction(ctx, change.summary, action);
  change.journal?.(ctx);
  if (change.apply) return change.apply(ctx);
}

async function runAction(ctx: HostContext, summary: string, action: RemoteAction): Promise<void> {
  const onOutput = (chunk: string) => {
    const line = chunk.trim().split('\n').pop();
    if (line) ctx.progress(line.slice(0, 120));
  };
  const r =
    'script' in action
      ? await ctx.transport.script(action.script, { timeoutMs: action.timeoutMs, onOutput })
      : await ctx.transport.exec(action.command, { input: action.input, timeoutMs: action.timeoutMs, onOutput });
  if (!(action.okCodes ?? [0]).includes(r.code)) throw new CommandError(summary, r.code, redact(r.stderr), redact(r.stdout), ctx.name);
}

/** The error's message, redacted; given the host it is recorded for, without the `[host] ` prefix the record already says. */
export function errorMessage(err: unknown, host?: string): string {
  const text = err instanceof ProvisionError ? err.message : err instanceof Error ? (err.stack && process.env.PROVISION_DEBUG ? err.stack : err.message) : String(err);
  const own = host !== undefined && text.startsWith(`[${host}] `) ? text.slice(host.length + 3) : text;
  return redact(own);
}
