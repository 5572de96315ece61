/**
 * Two real `provision` processes on one inventory. The host is a loopback TCP port that accepts and stays silent,
 * so the first run sits in its SSH connect (holding the lock) for as long as the test needs.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT, provision } from '../../support/cli.js';

let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'b-cli-lock-'));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** A TCP server that accepts and never says a word (an SSH client waits for its banner). */
async function silentServer(): Promise<{ server: Server; port: number; stop: () => void }> {
  const sockets = new Set<Socket>();
  const server = createServer((s) => {
    sockets.add(s);
    s.on('error', () => {});
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const stop = () => {
    server.close();
    for (const s of sockets) s.destroy();
  };
  return { server, port: (server.address() as { port: number }).port, stop };
}

let n = 0;
function inventory(port: number): string {
  const dir = join(tmp, `inv${n++}`);
  mkdirSync(dir, { recursive: true });
  const file = join(dir, 'hosts.yaml');
  writeFileSync(file, `all:\n  children:\n    brokers:\n      hosts:\n        h1: { ansible_host: 127.0.0.1, ansible_port: ${port}, ansible_timeout: 120 }\n`);
  return file;
}

function start(args: string[]) {
  const child = spawn(process.execPath, [join(PROJECT, 'bin', 'provision.js'), '--plain', ...args], {
    env: { ...process.env, CI: '1', NO_COLOR: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const out = { stdout: '', stderr: '' };
  child.stdout.on('data', (d: Buffer) => (out.stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out.stderr += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => child.on('close', (code, signal) => r({ code, signal })));
  const until = async (cond: () => boolean) => {
    while (!cond()) {
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`provision ended early:\n${out.stdout}\n${out.stderr}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  return { child, out, exited, until };
}

/** The first run, once it holds the lock (its lock file exists). */
async function firstRun(inv: string, extra: string[] = []) {
  const lockFile = join(dirname(inv), 'provision.lock');
  const run = start(['-i', inv, ...extra]);
  await run.until(() => existsSync(lockFile));
  return { ...run, lockFile };
}

describe('run lock between two provision processes', () => {
  it('a second run on the same inventory exits 5 naming the first (PID, since, command without secret values)', async () => {
    const host = await silentServer();
    const inv = inventory(host.port);
    const first = await firstRun(inv, ['-e', 'mqtt_admin_password=Sup3rSecretPw']);
    const second = await provision(['-i', inv, '--check']);
    expect(second.code).toBe(5);
    expect(second.stderr).toContain(`another run holds the run lock ${first.lockFile}: held by pid ${first.child.pid!} since 20`);
    expect(second.stderr).toContain(`: provision --plain -i ${inv} -e 'mqtt_admin_password=********'`);
    expect(second.stderr).not.toContain('Sup3rSecretPw');
    expect(second.stdout).not.toContain('PLAY RECAP'); // no host was touched
    // Read-only listings need no lock.
    expect((await provision(['-i', inv, '--list-hosts'])).code).toBe(0);
    first.child.kill('SIGINT');
    expect((await first.exited).signal).toBe('SIGINT');
    expect(existsSync(first.lockFile)).toBe(false);
    host.stop();
  });

  it('--wait-lock waits with a progress line and runs once the first run ends', async () => {
    const host = await silentServer();
    const inv = inventory(host.port);
    const first = await firstRun(inv);
    const second = start(['-i', inv, '--wait-lock=120']);
    await second.until(() => second.out.stderr.includes('waiting for the run lock'));
    expect(second.out.stderr).toMatch(new RegExp(`waiting for the run lock .*held by pid ${first.child.pid!} .*of at most 120 s`));
    // Stop listening (the first run's connection stays), then end the first run: the second takes the lock and
    // finds nothing listening on its host: unreachable (3), not locked (5).
    host.server.close();
    first.child.kill('SIGTERM');
    expect((await first.exited).signal).toBe('SIGTERM');
    const { code } = await second.exited;
    host.stop();
    expect(code).toBe(3);
    expect(second.out.stdout).toContain('PLAY RECAP');
    expect(existsSync(first.lockFile)).toBe(false);
  });

  it('--wait-lock=SECONDS gives up with the same message and exit 5', async () => {
    const host = await silentServer();
    const inv = inventory(host.port);
    const first = await firstRun(inv);
    const second = await provision(['-i', inv, '--wait-lock=1']);
    expect(second.code).toBe(5);
    expect(second.stderr).toMatch(new RegExp(`gave up after 1 s waiting for the run lock .*: held by pid ${first.child.pid!} `));
    first.child.kill('SIGTERM');
    await first.exited;
    host.stop();
  });
});
