/**
 * A host's planned steps whose actions wait to travel in one exchange (./action-batch.ts). The step runner queues
 * a step instead of running it while the next steps' plans cannot depend on it, and sends the queue before
 * anything that could: fresh facts, a plan that may read the host, a change that may alter any fact, the end.
 */
import { CommandError } from '../errors.js';
import { redact } from '../secrets.js';
import { describeScript } from '../transport/describe.js';
import { batchable, runActionBatch, type ActionOutcome } from './action-batch.js';
import type { HostFailure } from './host-run.js';
import type { Change, HostContext } from './types.js';

export interface Queued {
  /** A changing step's changes (their actions are sent); absent: a step that only waits to write its record. */
  changes?: Change[];
  /** Its actions succeeded (or it had none): write its record, given the milliseconds its actions took. */
  done(actionMs: number): void;
  /** One of its actions failed: record the failure; returns what stops the host. */
  fail(err: unknown, actionMs: number): HostFailure;
}

/**
 * A host's steps waiting to be sent. `send` runs every queued action in one exchange (./action-batch.ts), then
 * writes the records in step order; at a failed action it records that step as failed and drops the later ones,
 * which were never reached, as if the steps had run one by one. Never throws: a lost connection fails the first
 * step whose actions were in flight.
 */
export class QueuedSteps {
  #items: Queued[] = [];
  constructor(private readonly ctx: HostContext) {}

  get empty(): boolean {
    return this.#items.length === 0;
  }

  push(q: Queued): void {
    this.#items.push(q);
  }

  async send(): Promise<HostFailure | undefined> {
    const items = this.#items;
    this.#items = [];
    const sent = items.flatMap((item) => (item.changes ?? []).flatMap((c) => (c.actions ?? []).filter(batchable).map((action) => ({ item, summary: c.summary, action }))));
    let outcomes: ActionOutcome[] = [];
    const sentAt = Date.now();
    try {
      if (sent.length) outcomes = await runActionBatch(this.ctx.transport, sent.map((s) => s.action), (line) => this.ctx.progress(line.slice(0, 120)));
    } catch (err) {
      const first = items.findIndex((it) => it.changes?.length);
      items.slice(0, first).forEach((it) => it.done(0));
      return items[first]!.fail(err, Date.now() - sentAt);
    }
    const ms = new Map<Queued, number>();
    outcomes.forEach((o, k) => ms.set(sent[k]!.item, (ms.get(sent[k]!.item) ?? 0) + (o.ms ?? 0)));
    const k = outcomes.findIndex((o, j) => !(sent[j]!.action.okCodes ?? [0]).includes(o.code));
    for (const item of items) {
      if (k >= 0 && sent[k]!.item === item) {
        const o = outcomes[k]!;
        const { action, summary } = sent[k]!;
        // As the transport reports an action alone: a timeout names the script, any other exit the change.
        const err = o.timedOut
          ? new CommandError(redact(describeScript(action.script)), o.code, [`timed out after ${action.timeoutMs} ms`, redact(o.stderr)].filter((t) => t.trim()).join('\n'), redact(o.stdout), this.ctx.name)
          : new CommandError(summary, o.code, redact(o.stderr), redact(o.stdout), this.ctx.name);
        return item.fail(err, ms.get(item) ?? 0);
      }
      for (const c of item.changes ?? []) c.journal?.(this.ctx);
      item.done(ms.get(item) ?? 0);
    }
    return undefined;
  }
}
