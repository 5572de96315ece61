import { Listr, ListrLogger, ProcessOutput, type ListrTaskWrapper } from 'listr2';
import type { Phase } from '../engine/phase.js';
import { roleLabel, type StepRecord } from '../engine/records.js';
import type { Reporter } from '../engine/reporter.js';
import { c } from './colors.js';
import { colorDiff, withoutLabel } from './plain-renderer.js';

export interface HostTaskState {
  title: string;
  output?: string;
  counts: { ok: number; changed: number; failed: number; skipped: number };
  failure?: string;
  task?: ListrTaskWrapper<unknown, never, never>;
  finish?: () => void;
  done: Promise<void>;
}

export interface ListrRendererOptions {
  diff: boolean;
  verbose: boolean;
  /**
   * For tests: listr2's 'test' renderer (it logs every title and output change, as the terminal would show them in
   * turn) writing to `stdout`, which also takes the lines this renderer writes itself.
   */
  testOutput?: NodeJS.WriteStream;
}

/** A host's steps so far, read plainly: `15 steps: 13 changed, 2 unchanged` (changed steps are not counted twice). */
export function tallyText(counts: HostTaskState['counts']): string {
  const unchanged = counts.ok - counts.changed;
  const total = counts.ok + counts.skipped + counts.failed;
  const parts = [counts.changed && c.yellow(`${counts.changed} changed`), unchanged && `${unchanged} unchanged`, counts.skipped && c.cyan(`${counts.skipped} skipped`), counts.failed && c.red(`${counts.failed} failed`)].filter(Boolean);
  return `${total} step${total === 1 ? '' : 's'}${parts.length ? `: ${parts.join(', ')}` : ''}`;
}

/**
 * Terminal progress: play → phase → host → step. Each phase is one listr list with a line per host (the step it
 * runs now and its progress, or its tally between steps: a host waiting for its turn in a rolling restart does not
 * keep showing the step it finished); when the phase ends the line keeps the host's tally.
 */
export function listrRenderer(o: ListrRendererOptions): Reporter & { flush(): Promise<void> } {
  const write = (text: string) => void (o.testOutput ?? process.stdout).write(text);
  const listrOptions: object = o.testOutput
    ? { renderer: 'test', rendererOptions: { logger: new ListrLogger({ processOutput: new ProcessOutput(o.testOutput, o.testOutput) }), title: true, output: true, subtasks: true, task: ['path'] } }
    : { rendererOptions: { collapseSubtasks: false, collapseErrors: false } };
  const subtaskOptions: object = o.testOutput ? {} : { rendererOptions: { collapseSubtasks: false, collapseErrors: false } };
  let chain: Promise<void> = Promise.resolve();
  // Two plays' phases can run at once (a play's build beside the earlier plays: src/engine/play-order.ts), but a
  // host is in one phase at a time: step events find their line by host; a phase's end finishes only its own lines.
  const current = new Map<string, HostTaskState>();
  const phases = new Map<string, { hosts: Map<string, HostTaskState>; diffs: string[] }>();
  const phaseKey = (play: string, phase: string) => `${play}\u0000${phase}`;
  // The lists render one after the other: a list of another play than the last PLAY line names its play again.
  let shownPlay: string | undefined;
  const enqueue = (fn: () => Promise<void>) => {
    chain = chain.then(fn, fn);
  };
  const update = (s: HostTaskState) => {
    if (!s.task) return;
    s.task.title = s.title;
    if (s.output !== undefined) s.task.output = s.output;
  };
  const tally = (s: HostTaskState) => tallyText(s.counts);

  return {
    connectStart: (names) => enqueue(async () => void write(c.bold(`Connecting to ${names.length} host(s)…\n`))),
    hostConnectFailed: (host, message, state) => enqueue(async () => void write(c.red(`✖ ${host} ${state}: ${withoutLabel(message, state)}\n`))),
    playStart: (play, names) =>
      enqueue(async () => {
        shownPlay = play;
        write(`\n${c.bold(`PLAY [${play}]`)} ${c.gray(names.join(', '))}\n`);
      }),
    phaseStart: (play, phase: Phase, names) => {
      const phaseHosts = new Map<string, HostTaskState>();
      const phaseDiffs: string[] = [];
      phases.set(phaseKey(play, phase), { hosts: phaseHosts, diffs: phaseDiffs });
      for (const h of names) {
        const state = { title: `${h}`, counts: { ok: 0, changed: 0, failed: 0, skipped: 0 } } as HostTaskState;
        state.done = new Promise<void>((r) => (state.finish = r));
        phaseHosts.set(h, state);
        current.set(h, state);
      }
      enqueue(async () => {
        if (shownPlay !== undefined && shownPlay !== play) {
          shownPlay = play;
          write(`\n${c.bold(`PLAY [${play}]`)} ${c.gray('(continued)')}\n`);
        }
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
                  { concurrent: true, exitOnError: false, ...subtaskOptions },
                ),
            },
          ],
          { exitOnError: false, ...listrOptions },
        );
        await list.run().catch(() => undefined);
        if (o.diff && phaseDiffs.length) write(`${phaseDiffs.join('\n')}\n`);
      });
    },
    stepStart: (host, _phase, role, step) => {
      const s = current.get(host);
      if (!s) return;
      s.title = `${host} ${c.gray('›')} ${role}: ${step}`;
      s.output = '';
      update(s);
    },
    stepProgress: (host, line) => {
      const s = current.get(host);
      if (!s) return;
      s.output = line;
      update(s);
    },
    stepEnd: (r: StepRecord) => {
      const s = current.get(r.host);
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
      // Between steps the line shows the tally, not the step just finished (nor its last progress line).
      s.title = `${r.host} ${c.gray('—')} ${tally(s)}`;
      s.output = '';
      update(s);
      if (r.diff && o.diff) phases.get(phaseKey(r.play, r.phase ?? ''))?.diffs.push(`${c.bold(`--- ${r.host}: ${roleLabel(r)}: ${r.step}`)}\n${colorDiff(r.diff)}`);
    },
    phaseEnd: (play, phase) => {
      const key = phaseKey(play, phase);
      for (const s of phases.get(key)?.hosts.values() ?? []) s.finish?.();
      phases.delete(key);
    },
    flush: async () => {
      await chain;
    },
  };
}
