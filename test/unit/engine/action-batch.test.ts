/**
 * Consecutive steps' actions in one exchange (src/engine/action-batch.ts, the queue of src/engine/step-runner.ts),
 * run for real: OpenSSH on loopback (test/support/loopback-sshd.ts), the SSH transport, the real operations
 * writing under a temp directory. Each case is the same steps run twice — as written (factsOnly operations, whose
 * actions travel together) and with factsOnly stripped (one round trip per action, as before) — and both runs must
 * leave the same files and the same records; only the round trips differ.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runActionBatch } from '../../../src/engine/action-batch.js';
import { makeHostContext } from '../../../src/engine/host-context.js';
import { stepUnit } from '../../../src/engine/phase-units.js';
import type { StepRecord } from '../../../src/engine/records.js';
import { fanOut } from '../../../src/engine/reporter.js';
import { RunLog } from '../../../src/engine/run-log.js';
import { runSteps } from '../../../src/engine/step-runner.js';
import type { HostContext, PlayContext, Step } from '../../../src/engine/types.js';
import { gatherHostFacts } from '../../../src/facts/gather-host-facts.js';
import type { HostFacts } from '../../../src/facts/host-facts.js';
import { command } from '../../../src/operations/command.js';
import { directory, file } from '../../../src/operations/file.js';
import { SshTransport } from '../../../src/transport/ssh.js';
import { sshdAvailable, startLoopbackSshd, type LoopbackSshd } from '../../support/loopback-sshd.js';

let sshd: LoopbackSshd;
let t: SshTransport;
let facts: HostFacts;
let work: string;

beforeAll(async () => {
  if (!sshdAvailable()) return;
  sshd = await startLoopbackSshd();
  t = await SshTransport.connect(sshd.spec('h1'), { connectAttempts: 1 });
  facts = await gatherHostFacts(t);
});
afterAll(async () => {
  await t?.close();
  await sshd?.stop();
});

interface Outcome {
  failure: string | undefined;
  records: Pick<StepRecord, 'step' | 'status' | 'message' | 'changes'>[];
  roundTrips: number;
  notified: string[];
  progress: string[];
}

/** Runs `steps(dir)` on the loopback host in a fresh directory; `oneByOne`: with factsOnly stripped. */
async function run(steps: (dir: string) => Step[], oneByOne: boolean, check = false): Promise<Outcome & { dir: string }> {
  const dir = mkdtempSync(join(work, oneByOne ? 'one-' : 'batch-'));
  const log = new RunLog(['h1'], fanOut([]));
  const host = log.host('h1');
  const notified: string[] = [];
  const progress: string[] = [];
  const play = { name: 'p', hosts: ['h1'], inventory: { hosts: new Map([['h1', {}]]) }, options: { check, diff: false }, coordination: log.coordination } as unknown as PlayContext;
  const ctx: HostContext = makeHostContext({ host: 'h1', facts: () => facts, transport: t, phase: 'configure', play, progress: (l) => progress.push(l) });
  const before = t.roundTrips;
  const units = steps(dir).map((s) => stepUnit(oneByOne ? { ...s, factsOnly: false } : s, 'r', 'configure'));
  const failed = await runSteps(ctx, units, { play: 'p', phase: 'configure', events: fanOut([]), host, run: log, notify: (n) => notified.push(n) });
  const local = (text: string) => text.split(dir).join('DIR');
  const records = host.records.map(({ step, status, message, changes }) => ({ step: local(step), status, ...(message ? { message: local(message) } : {}), ...(changes ? { changes: changes.map(local) } : {}) }));
  const failure = failed?.error === undefined ? undefined : local(failed.error);
  return { dir, failure, records, roundTrips: t.roundTrips - before, notified, progress };
}

/** Both ways; asserts they agree on everything but round trips, and returns both. */
async function both(steps: (dir: string) => Step[]): Promise<{ batched: Outcome & { dir: string }; single: Outcome & { dir: string } }> {
  const single = await run(steps, true);
  const batched = await run(steps, false);
  expect(batched.records).toEqual(single.records);
  expect(batched.failure).toEqual(single.failure);
  expect(batched.notified).toEqual(single.notified);
  return { batched, single };
}

const files = (dir: string, n: number) => Array.from({ length: n }, (_, i) => file({ path: join(dir, `f${i}`), content: `content ${i}\n`, mode: '0640', notify: [`h${i}`] }));

describe.skipIf(!sshdAvailable())('consecutive steps send their actions in one exchange (real sshd)', () => {
  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), 'action-batch-'));
  });
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it('five file writes and a directory: one fact exchange and one action exchange, instead of 1 + 6', async () => {
    const steps = (dir: string) => [directory({ path: join(dir, 'd'), mode: '0750' }), ...files(dir, 5)];
    const { batched, single } = await both(steps);
    expect(single.roundTrips).toBe(7);
    expect(batched.roundTrips).toBe(2);
    expect(batched.records.map((r) => r.status)).toEqual(Array(6).fill('changed'));
    expect(batched.notified).toEqual(['h0', 'h1', 'h2', 'h3', 'h4']);
    for (const d of [batched.dir, single.dir]) for (let i = 0; i < 5; i++) expect(readFileSync(join(d, `f${i}`), 'utf8')).toBe(`content ${i}\n`);
    expect(batched.progress.filter((l) => l.startsWith('@@'))).toEqual([]);
  });

  it('a failing action fails its own step with its own stderr; earlier steps are done, later ones never reached', async () => {
    const steps = (dir: string) => [
      ...files(dir, 2),
      command({ name: 'noisy but fine', script: 'echo "a warning nobody minds" >&2; true' }),
      command({ name: 'breaks', script: 'echo "disk on fire" >&2; exit 7' }),
      file({ path: join(dir, 'after'), content: 'never\n' }),
    ];
    const { batched, single } = await both(steps);
    expect(batched.records.map((r) => [r.step, r.status])).toEqual([
      [expect.stringContaining('/f0'), 'changed'],
      [expect.stringContaining('/f1'), 'changed'],
      ['noisy but fine', 'changed'],
      ['breaks', 'failed'],
    ]);
    const message = batched.records[3]!.message!;
    expect(message).toContain('disk on fire');
    expect(message).toContain('7');
    expect(message).not.toContain('a warning nobody minds');
    expect(batched.failure).toContain('breaks');
    expect(existsSync(join(batched.dir, 'after'))).toBe(false);
    expect(existsSync(join(single.dir, 'after'))).toBe(false);
    expect(readFileSync(join(batched.dir, 'f1'), 'utf8')).toBe('content 1\n');
    expect(batched.roundTrips).toBeLessThan(single.roundTrips);
  });

  it('okCodes are honoured inside the exchange, and a bound ends only its own action, reported as a timeout', async () => {
    const steps = (dir: string) => [
      command({ name: 'exits 3, which is fine', script: 'exit 3', okCodes: [0, 3] }),
      file({ path: join(dir, 'between'), content: 'x\n' }),
      command({ name: 'hangs', script: 'sleep 30', timeoutMs: 1000 }),
      file({ path: join(dir, 'after'), content: 'never\n' }),
    ];
    const { batched } = await both(steps);
    expect(batched.records.map((r) => r.status)).toEqual(['changed', 'changed', 'failed']);
    expect(batched.records[2]!.message).toContain('timed out after 1000 ms');
    expect(readFileSync(join(batched.dir, 'between'), 'utf8')).toBe('x\n');
  });

  it('a step whose facts name a queued write gathers after the write was sent: it sees the new file', async () => {
    const steps = (dir: string) => [file({ path: join(dir, 'flag'), content: 'on\n' }), command({ name: 'only without the flag', script: `touch ${join(dir, 'ran')}`, creates: join(dir, 'flag') })];
    const { batched } = await both(steps);
    expect(batched.records.map((r) => [r.status, r.message])).toEqual([
      ['changed', undefined],
      ['ok', expect.stringContaining('exists')],
    ]);
    expect(existsSync(join(batched.dir, 'ran'))).toBe(false);
  });

  it('a step whose plan reads the host itself (not factsOnly) sees the queued steps\' work done', async () => {
    const reader = (dir: string): Step => ({
      name: 'reads f0 in its plan',
      async plan(ctx) {
        const seen = (await ctx.transport.exec(`cat ${join(dir, 'f0')}`)).stdout;
        return { changes: [], message: `saw ${seen.trim()}` };
      },
    });
    const { batched } = await both((dir) => [...files(dir, 2), reader(dir)]);
    expect(batched.records[2]).toMatchObject({ status: 'ok', message: 'saw content 0' });
  });

  it('steps with nothing to do between queued ones keep their place in the records', async () => {
    const steps = (dir: string) => [file({ path: join(dir, 'a'), content: 'a\n' }), { name: 'nothing to do', factsOnly: true, plan: () => ({ changes: [] }) } as Step, { name: 'skipped', factsOnly: true, plan: () => ({ skip: 'not here' }) } as Step, file({ path: join(dir, 'b'), content: 'b\n' })];
    const { batched } = await both(steps);
    expect(batched.records.map((r) => [r.step, r.status])).toEqual([
      [expect.stringContaining('/a'), 'changed'],
      ['nothing to do', 'ok'],
      ['skipped', 'skipped'],
      [expect.stringContaining('/b'), 'changed'],
    ]);
    expect(batched.roundTrips).toBe(2);
  });

  it('check mode sends no action at all', async () => {
    const r = await run((dir) => files(dir, 3), false, true);
    expect(r.records.map((x) => x.status)).toEqual(['changed', 'changed', 'changed']);
    expect(r.roundTrips).toBe(1);
    expect(existsSync(join(r.dir, 'f0'))).toBe(false);
  });
});

describe.skipIf(!sshdAvailable())('runActionBatch (real sshd)', () => {
  it('splits each action\'s stdout and stderr back out, and times each on the host\'s clock', async () => {
    const out = await runActionBatch(t, [{ script: 'echo one; echo err-one >&2' }, { script: 'printf two' }, { script: 'sleep 0.2; echo three' }]);
    expect(out.map((o) => [o.stdout, o.stderr, o.code])).toEqual([
      ['one\n', 'err-one\n', 0],
      ['two', '', 0],
      ['three\n', '', 0],
    ]);
    expect(out.every((o) => typeof o.ms === 'number' && o.ms >= 0)).toBe(true);
  });

  it('a script holding quotes, markers of its own and 600 KB passes through intact, as it would alone', async () => {
    const big = 'x'.repeat(600_000);
    const tricky = `printf '%s' "it's \\"quoted\\" \\$HOME"; echo; echo '@@abc end 0 0 1'; printf '%s' '${big}' | wc -c`;
    const [alone] = [await t.script(tricky)];
    const [batched] = await runActionBatch(t, [{ script: tricky }]);
    expect(batched!.stdout).toBe(alone!.stdout);
    expect(batched!.stdout).toContain('600000');
  });
});
