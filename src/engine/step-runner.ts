import { CommandError, ControllerError, ProvisionError, UnreachableError } from '../errors.js';
import { gatherHostFacts } from '../facts/gather-host-facts.js';
import { redact } from '../secrets.js';
import { gatherFacts } from './fact-batch.js';
import type { Phase } from './phase.js';
import type { StepRecord } from './records.js';
import type { RunEvents } from './reporter.js';
import type { Change, FactResults, HostContext, RemoteAction, Step } from './types.js';

/** A step together with the role (or handler) it came from. */
export interface StepUnit {
  step: Step;
  role: string;
  /** Every tag the step answers to: its own, the play's for its role, the role name and the phase. */
  tags?: string[];
}

export interface StepRunEnv {
  play: string;
  phase: Phase;
  events: RunEvents;
  records: StepRecord[];
  /** run-once step key → host that ran it. */
  runOnce: Map<string, string>;
  notify(handler: string): void;
  setFacts(facts: HostContext['facts']): void;
}

const NO_FACTS: FactResults = {
  get() {
    throw new Error('no facts were gathered for this step');
  },
};

/** Runs steps on one host in order; returns false at the first failure (the host stops its own steps). */
export async function runSteps(ctx: HostContext, units: StepUnit[], env: StepRunEnv): Promise<boolean> {
  let facts: FactResults = NO_FACTS;
  let stale = true;
  // Paths changed since the facts were gathered; a later step whose facts name one of them re-gathers.
  let touched: string[] = [];
  for (let i = 0; i < units.length; i++) {
    const { step, role } = units[i]!;
    const started = Date.now();
    const record = (status: StepRecord['status'], extra: Partial<StepRecord> = {}) => {
      const r: StepRecord = { host: ctx.name, play: env.play, phase: env.phase, role, step: redact(step.name), status, changed: status === 'changed', durationMs: Date.now() - started, ...extra };
      if (r.message) r.message = redact(r.message);
      env.records.push(r);
      env.events.stepEnd(r);
    };
    env.events.stepStart(ctx.name, env.phase, role, redact(step.name));
    try {
      if (step.runOnce) {
        const key = `${env.play}:${env.phase}:${role}:${step.name}`;
        const owner = env.runOnce.get(key);
        if (owner && owner !== ctx.name) {
          record('skipped', { message: `ran once on ${owner}` });
          continue;
        }
        env.runOnce.set(key, ctx.name);
      }
      const outdated = touched.length > 0 && (step.facts ?? []).some((q) => factOutdatedBy(q.key, touched));
      if ((stale || outdated) && step.facts?.length) {
        // Prefetch the facts of this and every later step: a phase with nothing to do costs one round trip.
        facts = await gatherFacts(ctx.transport, units.slice(i).flatMap((u) => u.step.facts ?? []));
        stale = false;
        touched = [];
      }
      const plan = await step.plan(ctx, facts);
      if ('skip' in plan) {
        record('skipped', { message: plan.skip });
        continue;
      }
      if (plan.changes.length === 0) {
        record('ok', plan.message ? { message: plan.message } : {});
        continue;
      }
      const summaries = plan.changes.map((c) => redact(c.summary));
      const diff = plan.changes.map((c) => c.diff).filter(Boolean).join('\n');
      if (!ctx.check) {
        const messages: string[] = [];
        for (const change of plan.changes) {
          const m = await applyChange(ctx, change);
          if (m) messages.push(m);
        }
        if (plan.changes.every((c) => c.affects) && !step.verify && !step.refreshesHostFacts) touched.push(...plan.changes.flatMap((c) => c.affects!));
        else stale = true;
        await step.verify?.(ctx);
        if (step.refreshesHostFacts) env.setFacts(await gatherHostFacts(ctx.transport));
        if (messages.length) plan.message = [plan.message, ...messages].filter(Boolean).join('; ');
      }
      for (const h of step.notify ?? []) env.notify(h);
      record('changed', { changes: summaries, ...(diff ? { diff: redact(diff) } : {}), ...(plan.message ? { message: plan.message } : {}) });
    } catch (err) {
      if (err instanceof ControllerError) {
        recordControllerFailure(env, role, redact(step.name), err);
        record('failed', { message: `the controller's ${err.what} failed (reported once, as the controller's)` });
        return false;
      }
      record(err instanceof UnreachableError ? 'unreachable' : 'failed', { message: errorMessage(err) });
      return false;
    }
  }
  return true;
}

/** The first host to hit a controller failure records it (host 'controller'); the others only point at it. */
function recordControllerFailure(env: StepRunEnv, role: string, step: string, err: ControllerError): void {
  const message = errorMessage(err);
  if (env.records.some((r) => r.controller && r.message === message)) return;
  const r: StepRecord = { host: 'controller', play: env.play, phase: env.phase, role, step, status: 'failed', changed: false, durationMs: 0, message, controller: true };
  env.records.push(r);
  env.events.stepEnd(r);
}

const PATH_FACT = /^(file|stat|tree):/;
/** Facts a plain file write cannot change: packages, users, services, firewall and SELinux state. */
const UNRELATED_TO_FILES = /^(packages|package-lists|package-upgradable|user|group|service|firewall|selinux-ports)(:|$)/;

/** Would writing `paths` change this fact? Path facts: when they name one; guards and role facts: always. */
function factOutdatedBy(key: string, paths: string[]): boolean {
  if (PATH_FACT.test(key)) return paths.some((p) => key.includes(p));
  return !UNRELATED_TO_FILES.test(key);
}

async function applyChange(ctx: HostContext, change: Change): Promise<string | void> {
  for (const action of change.actions ?? []) await runAction(ctx, change.summary, action);
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

export function errorMessage(err: unknown): string {
  if (err instanceof ProvisionError) return redact(err.message);
  if (err instanceof Error) return redact(err.stack && process.env.PROVISION_DEBUG ? err.stack : err.message);
  return redact(String(err));
}
