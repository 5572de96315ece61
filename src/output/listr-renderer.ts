import { Listr, type ListrTaskWrapper } from 'listr2';
import type { Phase } from '../engine/phase.js';
import { roleLabel, type StepRecord } from '../engine/records.js';
import type { Reporter } from '../engine/reporter.js';
import { c } from './colors.js';
import { colorDiff } from './plain-renderer.js';

interface HostTaskState {
  title: string;
  output?: string;
  counts: { ok: number; changed: number; failed: number; skipped: number };
  failure?: string;
  task?: ListrTaskWrapper<unknown, never, never>;
  finish?: () => void;
  done: Promise<void>;
}

/**
 * Terminal progress: play → phase → host → step. Each phase is one listr list with a line per host
 * (the current step and its progress); when the phase ends the line keeps the host's tally.
 */
export function listrRenderer(o: { diff: boolean; verbose: boolean }): Reporter & { flush(): Promise<void> } {
  let chain: Promise<void> = Promise.resolve();
  let hosts = new Map<string, HostTaskState>();
  let diffs: string[] = [];
  const enqueue = (fn: () => Promise<void>) => {
    chain = chain.then(fn, fn);
  };
  const update = (s: HostTaskState) => {
    if (!s.task) return;
    s.task.title = s.title;
    if (s.output !== undefined) s.task.output = s.output;
  };
  const tally = (s: HostTaskState) =>
    [s.counts.changed && c.yellow(`${s.counts.changed} changed`), `${s.counts.ok} ok`, s.counts.skipped && c.cyan(`${s.counts.skipped} skipped`), s.counts.failed && c.red(`${s.counts.failed} failed`)].filter(Boolean).join(', ');

  return {
    connectStart: (names) => enqueue(async () => void process.stdout.write(c.bold(`Connecting to ${names.length} host(s)…\n`))),
    hostConnectFailed: (host, message, state) => enqueue(async () => void process.stdout.write(c.red(`✖ ${host} ${state}: ${message}\n`))),
    playStart: (play, names) => enqueue(async () => void process.stdout.write(`\n${c.bold(`PLAY [${play}]`)} ${c.gray(names.join(', '))}\n`)),
    phaseStart: (_play, phase: Phase, names) => {
      hosts = new Map();
      diffs = [];
      const phaseHosts = hosts;
      const phaseDiffs = diffs;
      for (const h of names) {
        const state = { title: `${h}`, counts: { ok: 0, changed: 0, failed: 0, skipped: 0 } } as HostTaskState;
        state.done = new Promise<void>((r) => (state.finish = r));
        phaseHosts.set(h, state);
      }
      enqueue(async () => {
        const list = new Listr(
          [
            {
              title: c.bold(phase),
              task: (_ctx, task) =>
                task.newListr(
                  [...phaseHosts].map(([h, s]) => ({
                    title: h,
                    task: async (_c: unknown, t: ListrTaskWrapper<unknown, never, never>) => {
                      s.task = t;
                      update(s);
                      await s.done;
                      t.title = `${h} ${c.gray('—')} ${tally(s)}`;
                      if (s.failure) throw new Error(s.failure);
                    },
                  })),
                  { concurrent: true, exitOnError: false, rendererOptions: { collapseSubtasks: false, collapseErrors: false } },
                ),
            },
          ],
          { exitOnError: false, rendererOptions: { collapseSubtasks: false, collapseErrors: false } },
        );
        await list.run().catch(() => undefined);
        if (o.diff && phaseDiffs.length) process.stdout.write(`${phaseDiffs.join('\n')}\n`);
      });
    },
    stepStart: (host, _phase, role, step) => {
      const s = hosts.get(host);
      if (!s) return;
      s.title = `${host} ${c.gray('›')} ${role}: ${step}`;
      s.output = '';
      update(s);
    },
    stepProgress: (host, line) => {
      const s = hosts.get(host);
      if (!s) return;
      s.output = line;
      update(s);
    },
    stepEnd: (r: StepRecord) => {
      const s = hosts.get(r.host);
      if (!s) return;
      if (r.status === 'ok') s.counts.ok++;
      if (r.status === 'changed') {
        s.counts.ok++;
        s.counts.changed++;
      }
      if (r.status === 'skipped') s.counts.skipped++;
      if (r.status === 'failed') {
        s.counts.failed++;
        s.failure = `${roleLabel(r)}: ${r.step}: ${r.message ?? 'failed'}`;
      }
      if (r.diff && o.diff) diffs.push(`${c.bold(`--- ${r.host}: ${roleLabel(r)}: ${r.step}`)}\n${colorDiff(r.diff)}`);
    },
    phaseEnd: () => {
      for (const s of hosts.values()) s.finish?.();
    },
    flush: async () => {
      await chain;
    },
  };
}
