/**
 * The terminal renderer (listr2), through listr2's test renderer: it logs every title and output change of every
 * line, in order — what a terminal shows over time. A rolling restart must read as one broker at a time, and a host's
 * counts must read naturally.
 */
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { StepRecord } from '../../../src/engine/records.js';
import { listrRenderer, tallyText } from '../../../src/output/listr-renderer.js';

// eslint-disable-next-line no-control-regex
const plain = (s: string) => s.replace(/\x1b\[[0-9;]*m/g, '');

function capture() {
  let text = '';
  const out = new Writable({
    write(chunk, _enc, done) {
      text += String(chunk);
      done();
    },
  }) as unknown as NodeJS.WriteStream;
  return { out, lines: () => plain(text).split('\n').filter(Boolean) };
}

/** listr2's log as [host, event, data] for the host lines (path configure > host). */
function hostEvents(lines: string[]): [string, string, string][] {
  return lines.flatMap((l) => {
    if (!l.startsWith('{')) return [];
    const e = JSON.parse(l) as { event: string; data: string; task?: { path?: string[] } };
    const path = e.task?.path ?? [];
    return path.length === 2 ? [[path[1]!, e.event, String(e.data)] as [string, string, string]] : [];
  });
}

/** Lets the renderer's queue and listr2 run (no timing: yields until the condition holds). */
async function until(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 10_000 && !cond(); i++) await new Promise((r) => setImmediate(r));
  if (!cond()) throw new Error('condition never held');
}

const rec = (host: string, role: string, step: string, status: StepRecord['status'], extra: Partial<StepRecord> = {}): StepRecord => ({
  host, play: 'brokers', phase: 'configure', role, step, status, changed: status === 'changed', durationMs: 5, ...extra,
});

describe('listrRenderer', () => {
  it('a rolling restart shows one broker restarting at a time; the others say whose turn it is; a finished host shows its tally', async () => {
    const { out, lines } = capture();
    const r = listrRenderer({ diff: false, verbose: false, testOutput: out });
    const hosts = ['mq1', 'mq2', 'mq3'];
    r.phaseStart!('brokers', 'configure', hosts);
    await until(() => hostEvents(lines()).filter(([, e, d]) => e === 'STATE' && d === 'STARTED').length === 3);
    for (const h of hosts) {
      r.stepStart!(h, 'configure', 'mosquitto_config', 'mosquitto.conf');
      r.stepEnd!(rec(h, 'mosquitto_config', 'mosquitto.conf', 'changed', { changes: ['update /etc/mosquitto/mosquitto.conf'] }));
    }
    // What the runner emits for a rolling handler (src/engine/runner.ts runHandlers), host by host.
    const screens: Record<string, string>[] = [];
    for (const [i, h] of hosts.entries()) {
      for (const next of hosts.slice(i + 1)) r.stepProgress!(next, `waiting for its turn (restart mosquitto: ${h} now, ${i + 1} of 3)`);
      r.stepStart!(h, 'configure', 'mosquitto_config (handler)', 'restart mosquitto and check it serves TLS logins');
      r.stepProgress!(h, `waiting until lb1 sees ${h} UP`);
      // The screen now: each host line's last title and output.
      const screen: Record<string, string> = {};
      for (const [host, e, d] of hostEvents(lines())) {
        if (e === 'TITLE') screen[host] = d;
        if (e === 'OUTPUT') screen[host] = `${screen[host]!.split('\n')[0]}${d ? `\n  ${d}` : ''}`;
      }
      screens.push(screen);
      r.stepEnd!(rec(h, 'mosquitto_config', 'restart mosquitto and check it serves TLS logins', 'changed', { kind: 'handler', changes: ['restart mosquitto'] }));
    }
    r.phaseEnd!('brokers', 'configure');
    await r.flush();
    const restarting = 'mosquitto_config (handler): restart mosquitto and check it serves TLS logins';
    expect(screens[1]).toEqual({
      mq1: 'mq1 — 2 steps: 2 changed',
      mq2: `mq2 › ${restarting}\n  waiting until lb1 sees mq2 UP`,
      mq3: 'mq3 — 1 step: 1 changed\n  waiting for its turn (restart mosquitto: mq2 now, 2 of 3)',
    });
    // At every moment exactly one host line shows the restart.
    for (const screen of screens) expect(Object.values(screen).filter((l) => l.includes(restarting))).toHaveLength(1);
    const finals = hostEvents(lines()).filter(([, e]) => e === 'TITLE');
    expect(hosts.map((h) => finals.filter(([x]) => x === h).at(-1)![2])).toEqual(['mq1 — 2 steps: 2 changed', 'mq2 — 2 steps: 2 changed', 'mq3 — 2 steps: 2 changed']);
  });

  it('two plays\' phases at once (a build beside the earlier play): each step counts in its own host\'s line, a phase end finishes only its own lines', async () => {
    const { out, lines } = capture();
    const r = listrRenderer({ diff: false, verbose: false, testOutput: out });
    const build = (host: string, play: string, step: string) => rec(host, 'base', step, 'changed', { play, phase: 'build' });
    r.playStart!('Mosquitto brokers', ['mq1']);
    r.phaseStart!('Mosquitto brokers', 'build', ['mq1']);
    r.playStart!('Load balancers', ['lb1']);
    r.phaseStart!('Load balancers', 'build', ['lb1']);
    r.stepEnd!(build('lb1', 'Load balancers', 'packages'));
    r.stepEnd!(build('mq1', 'Mosquitto brokers', 'packages'));
    r.phaseEnd!('Mosquitto brokers', 'build');
    r.phaseStart!('Mosquitto brokers', 'configure', ['mq1']);
    r.stepEnd!(build('lb1', 'Load balancers', 'more packages'));
    r.stepEnd!(rec('mq1', 'mosquitto_config', 'mosquitto.conf', 'changed', { play: 'Mosquitto brokers' }));
    r.stepEnd!(rec('mq1', 'mosquitto_config', 'mosquitto.conf 2', 'ok', { play: 'Mosquitto brokers' }));
    r.phaseEnd!('Load balancers', 'build');
    r.phaseEnd!('Mosquitto brokers', 'configure');
    await r.flush();
    const finals = hostEvents(lines()).filter(([h, e, d]) => e === 'TITLE' && d.startsWith(`${h} —`));
    expect([...new Set(finals.map(([, , d]) => d))]).toEqual(['mq1 — 1 step: 1 changed', 'lb1 — 2 steps: 2 changed', 'mq1 — 2 steps: 1 changed, 1 unchanged']);
    // The brokers' configure list comes after the load balancers' build list: it names its play again.
    const headers = lines().filter((l) => l.startsWith('PLAY ['));
    expect(headers).toEqual(['PLAY [Mosquitto brokers] mq1', 'PLAY [Load balancers] lb1', 'PLAY [Mosquitto brokers] (continued)']);
  });

  it('per-host counts: each step once (a changed step is not also counted ok)', () => {
    expect(plain(tallyText({ ok: 13, changed: 13, skipped: 0, failed: 0 }))).toBe('13 steps: 13 changed');
    expect(plain(tallyText({ ok: 15, changed: 13, skipped: 1, failed: 0 }))).toBe('16 steps: 13 changed, 2 unchanged, 1 skipped');
    expect(plain(tallyText({ ok: 2, changed: 0, skipped: 0, failed: 1 }))).toBe('3 steps: 2 unchanged, 1 failed');
    expect(plain(tallyText({ ok: 0, changed: 0, skipped: 0, failed: 0 }))).toBe('0 steps');
  });

  it('a host whose connection failed: one line, the label as it is counted, said once', async () => {
    const { out, lines } = capture();
    const r = listrRenderer({ diff: false, verbose: false, testOutput: out });
    r.hostConnectFailed!('mq3', 'unreachable: connect ECONNREFUSED 10.77.0.4:22', 'unreachable');
    r.hostConnectFailed!('mq2', 'become (sudo) failed: sudo refused the become password (wrong ansible_become_password?)', 'failed');
    await r.flush();
    expect(lines()).toEqual(['✖ mq3 unreachable: connect ECONNREFUSED 10.77.0.4:22', '✖ mq2 failed: become (sudo) failed: sudo refused the become password (wrong ansible_become_password?)']);
  });
});
