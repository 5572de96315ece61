/**
 * The inventory's run lock: atomic creation, stale (dead or reused PID) vs live owners, release on exit and on
 * signals, waiting; against real processes. Children run the compiled module (dist/, built by the global setup).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { acquireRunLock, describeCommand, RUN_LOCK_FILE } from '../../../src/controller/run-lock.js';
import { processStartId } from '../../../src/controller/process-info.js';
import { EXIT, exitCodeForError } from '../../../src/cli/exit-codes.js';
import { RunLockedError } from '../../../src/errors.js';
import { PROJECT } from '../../support/cli.js';

const MODULE = join(PROJECT, 'dist', 'src', 'controller', 'run-lock.js');
let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'b-run-lock-'));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

let n = 0;
const freshDir = () => {
  const d = join(tmp, `inv${n++}`);
  spawnSync('mkdir', ['-p', d]);
  return d;
};

/**
 * A child that waits for a line on stdin, then tries the lock once: prints `acquired` and holds it until stdin
 * closes, or prints `locked <message>` and exits 5.
 */
function lockChild(dir: string, go = true): { child: ChildProcess; out: () => string; line: (re: RegExp) => Promise<string>; exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }> } {
  const script = `
    import { acquireRunLock } from ${JSON.stringify(MODULE)};
    process.stdin.setEncoding('utf8');
    let buf = '';
    process.stdin.on('data', async (c) => {
      buf += c;
      if (buf !== 'go\\n') return;
      try {
        const lock = await acquireRunLock(${JSON.stringify(dir)}, { command: 'child ' + process.pid });
        console.log('acquired');
        process.stdin.on('end', () => { lock.release(); process.exit(0); });
      } catch (e) { console.log('locked ' + e.message.split('\\n')[0]); process.exit(5); }
    });`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['pipe', 'pipe', 'inherit'] });
  let out = '';
  const waiters: Array<() => void> = [];
  child.stdout!.setEncoding('utf8').on('data', (c: string) => {
    out += c;
    for (const w of waiters.splice(0)) w();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => child.on('close', (code, signal) => r({ code, signal })));
  const line = (re: RegExp) =>
    new Promise<string>((resolve, reject) => {
      const check = () => {
        const m = out.split('\n').find((l) => re.test(l));
        if (m) return resolve(m);
        if (child.exitCode !== null || child.signalCode !== null) return reject(new Error(`child exited without ${re}: ${out}`));
        waiters.push(check);
      };
      check();
      child.once('close', check);
    });
  if (go) child.stdin!.write('go\n');
  return { child, out: () => out, line, exited };
}

describe('acquireRunLock', () => {
  it('creates provision.lock in the directory with this process as owner and removes it on release', async () => {
    const dir = freshDir();
    const lock = await acquireRunLock(dir, { command: 'provision -i hosts.yaml' });
    const owner = JSON.parse(readFileSync(join(dir, RUN_LOCK_FILE), 'utf8')) as Record<string, unknown>;
    expect(owner).toMatchObject({ pid: process.pid, host: hostname(), command: 'provision -i hosts.yaml', start: processStartId(process.pid) });
    lock.release();
    expect(existsSync(join(dir, RUN_LOCK_FILE))).toBe(false);
  });

  it('takes over a lock whose process is gone (stale PID)', async () => {
    const dir = freshDir();
    const dead = spawnSync('sh', ['-c', 'echo $$']).stdout.toString().trim();
    writeFileSync(join(dir, RUN_LOCK_FILE), JSON.stringify({ pid: Number(dead), start: 'x:1', host: hostname(), since: new Date().toISOString(), command: 'old run' }));
    const lock = await acquireRunLock(dir, { command: 'new run' });
    expect(JSON.parse(readFileSync(join(dir, RUN_LOCK_FILE), 'utf8'))).toMatchObject({ pid: process.pid, command: 'new run' });
    lock.release();
  });

  it('takes over a lock whose PID now belongs to another process (start time differs)', async () => {
    const dir = freshDir();
    // A live PID (ours) with another process's start time: the owner died and its PID was reused.
    writeFileSync(join(dir, RUN_LOCK_FILE), JSON.stringify({ pid: process.pid, start: 'another-boot:42', host: hostname(), since: '2026-01-01T00:00:00Z', command: 'old run' }));
    const lock = await acquireRunLock(dir, { command: 'new run' });
    expect(JSON.parse(readFileSync(join(dir, RUN_LOCK_FILE), 'utf8'))).toMatchObject({ command: 'new run', start: processStartId(process.pid) });
    lock.release();
  });

  it('refuses a lock held by a live process and names it (PID, since, command); exit code 5', async () => {
    const dir = freshDir();
    const holder = lockChild(dir);
    await holder.line(/^acquired$/);
    const err = await acquireRunLock(dir, { command: 'second' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RunLockedError);
    const msg = (err as Error).message;
    expect(msg).toContain(`pid ${holder.child.pid!} since 20`);
    expect(msg).toContain(`child ${holder.child.pid!}`);
    expect(msg).toContain(join(dir, RUN_LOCK_FILE));
    expect(exitCodeForError(err)).toBe(EXIT.locked);
    expect(EXIT.locked).toBe(5);
    holder.child.stdin!.end();
    expect((await holder.exited).code).toBe(0);
    expect(existsSync(join(dir, RUN_LOCK_FILE))).toBe(false);
  });

  it('lets exactly one of several processes starting at the same moment take it', async () => {
    for (let round = 0; round < 3; round++) {
      const dir = freshDir();
      const kids = Array.from({ length: 4 }, () => lockChild(dir, false));
      // Every child is up and waiting on stdin; release them together.
      await new Promise((r) => setTimeout(r, 300));
      for (const k of kids) k.child.stdin!.write('go\n');
      const results = await Promise.all(kids.map((k) => k.line(/^(acquired|locked)/)));
      expect(results.filter((r) => r === 'acquired')).toHaveLength(1);
      const winner = kids[results.indexOf('acquired')]!;
      for (const r of results.filter((x) => x !== 'acquired')) expect(r).toContain(`pid ${winner.child.pid!} `);
      for (const k of kids) k.child.stdin!.end();
      await Promise.all(kids.map((k) => k.exited));
      expect(existsSync(join(dir, RUN_LOCK_FILE))).toBe(false);
    }
  });

  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    it(`is released when the holder gets ${sig}, which still ends the holder`, async () => {
      const dir = freshDir();
      const holder = lockChild(dir);
      await holder.line(/^acquired$/);
      expect(existsSync(join(dir, RUN_LOCK_FILE))).toBe(true);
      holder.child.kill(sig);
      expect(await holder.exited).toEqual({ code: null, signal: sig });
      expect(existsSync(join(dir, RUN_LOCK_FILE))).toBe(false);
    });
  }

  it('a SIGKILLed holder leaves the file; the next run sees it is stale and takes it', async () => {
    const dir = freshDir();
    const holder = lockChild(dir);
    await holder.line(/^acquired$/);
    holder.child.kill('SIGKILL');
    await holder.exited;
    expect(existsSync(join(dir, RUN_LOCK_FILE))).toBe(true);
    const lock = await acquireRunLock(dir, { command: 'after kill' });
    lock.release();
  });

  it('waits for a held lock with progress lines naming the holder, and takes it once released', async () => {
    const dir = freshDir();
    const holder = lockChild(dir);
    await holder.line(/^acquired$/);
    const progress: string[] = [];
    const lock = await acquireRunLock(dir, {
      command: 'waiter',
      waitSeconds: 120,
      progressEveryMs: 0,
      progress: (l) => {
        progress.push(l);
        if (progress.length === 2) holder.child.stdin!.end(); // released while we wait
      },
    });
    expect(progress[0]).toMatch(new RegExp(`^waiting for the run lock .*held by pid ${holder.child.pid!} .* of at most 120 s\\)$`));
    expect(JSON.parse(readFileSync(join(dir, RUN_LOCK_FILE), 'utf8'))).toMatchObject({ pid: process.pid, command: 'waiter' });
    lock.release();
  });

  it('gives up after the wait with the same holder description', async () => {
    const dir = freshDir();
    const holder = lockChild(dir);
    await holder.line(/^acquired$/);
    const err = (await acquireRunLock(dir, { command: 'waiter', waitSeconds: 1 }).catch((e: unknown) => e)) as Error;
    expect(err).toBeInstanceOf(RunLockedError);
    expect(err.message).toMatch(new RegExp(`^gave up after 1 s waiting for the run lock .*: held by pid ${holder.child.pid!} `));
    holder.child.stdin!.end();
    await holder.exited;
  });

  it('never takes a lock recorded by another machine (shared inventory directory)', async () => {
    const dir = freshDir();
    writeFileSync(join(dir, RUN_LOCK_FILE), JSON.stringify({ pid: 1, start: 'x:1', host: 'other-controller', since: '2026-01-01T00:00:00Z', command: 'provision -i hosts.yaml' }));
    const err = (await acquireRunLock(dir, { command: 'x' }).catch((e: unknown) => e)) as Error;
    expect(err.message).toContain('pid 1 on other-controller since 2026-01-01T00:00:00Z');
  });
});

describe('describeCommand', () => {
  it('masks extra-vars values in every spelling, keeps keys and @file references', () => {
    expect(describeCommand(['provision', '-i', 'hosts.yaml', '-e', 'admin_password=hunter22 x=1', '--extra-vars={"k":"v"}', '-etoken=abc', '-e', '@vars.yaml', '--check'])).toBe(
      "provision -i hosts.yaml -e 'admin_password=******** x=********' '--extra-vars=********' '-etoken=********' -e @vars.yaml --check",
    );
  });
});
