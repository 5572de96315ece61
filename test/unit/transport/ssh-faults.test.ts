import { mkdtempSync } from 'node:fs';
import type net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { UnreachableError } from '../../../src/errors.js';
import type { ConnectionSpec } from '../../../src/inventory/connection.js';
import { SshTransport } from '../../../src/transport/ssh.js';
import { startFaultProxy, startFaultServer, type Fault, type FaultProxy, type FaultServer } from '../../support/fault-servers.js';
import { holdConnection, startLoopbackSshd, type LoopbackSshd } from '../../support/loopback-sshd.js';

// Every test here would end the whole test process with "Unhandled 'error' event" if ssh2's errors escaped:
// vitest fails the run on any unhandled error, so "the promise rejected with UnreachableError" is the whole story.

const knownHostsFile = join(mkdtempSync(join(tmpdir(), 'a-kh-')), 'known_hosts');
const faultSpec = (port: number, connectTimeoutMs = 2000): ConnectionSpec => ({ host: 'broken', address: '127.0.0.1', port, user: 'root', become: false, becomeUser: 'root', connectTimeoutMs });

describe('a broken SSH port makes only that host unreachable (bounded retries, no unhandled error)', () => {
  let server: FaultServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  const faults: [Fault, number][] = [
    ['accept-close', 2000],
    ['reset', 2000],
    ['bogus-banner', 2000],
    ['banner-then-close', 2000],
    ['silent', 300],
  ];
  it.each(faults)('%s: UnreachableError after 3 attempts', async (fault, timeout) => {
    server = await startFaultServer(fault);
    const err = await SshTransport.connect(faultSpec(server.port, timeout), { knownHostsFile, acceptNewHostKeys: true, connectAttempts: 3 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnreachableError);
    expect((err as Error).message).toMatch(new RegExp(`^\\[broken\\] unreachable: .*127\\.0\\.0\\.1:${server.port}, 3 attempts`));
    expect(server.accepted).toBe(3);
  });
});

describe('a real sshd (MaxStartups 1:100:1) and a network that drops connections', () => {
  let sshd: LoopbackSshd;
  let proxy: FaultProxy;
  let held: net.Socket | undefined;
  const open: SshTransport[] = [];
  const connect = async (spec: ConnectionSpec, opts: Parameters<typeof SshTransport.connect>[1] = {}) => {
    const t = await SshTransport.connect(spec, { connectAttempts: 2, ...opts });
    open.push(t);
    return t;
  };
  const viaProxy = (): ConnectionSpec => ({ ...sshd.spec('proxied'), port: proxy.port, knownHostsFile: join(sshd.dir, 'proxy_known_hosts') });

  beforeAll(async () => {
    sshd = await startLoopbackSshd(['MaxStartups 1:100:1']);
    proxy = await startFaultProxy(sshd.port);
  });
  afterEach(async () => {
    held?.destroy();
    held = undefined;
    proxy.resetAfterServerBytes(undefined);
    await Promise.all(open.splice(0).map((t) => t.close()));
  });
  afterAll(async () => {
    await proxy?.close();
    await sshd?.stop();
  });

  it('a script past its bound ends with its whole process group, even a child that keeps the channel open', async () => {
    const t = await connect(sshd.spec());
    // The background sleep holds stdout: without the host-side timeout the channel never closes (apt-get's methods).
    const started = Date.now();
    const err = await t.script('sleep 300 & sleep 300', { timeoutMs: 1500 }).catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/timed out after 1500 ms/);
    expect(Date.now() - started).toBeLessThan(15_000);
    // Nothing of it is left running.
    expect((await t.exec('pgrep -fx "sleep 300" || true')).stdout).toBe('');
  });

  it('connects and runs commands when nothing is in the way', async () => {
    const t = await connect(sshd.spec());
    expect((await t.exec('echo hi')).stdout).toBe('hi\n');
  });

  it('at connect: a held unauthenticated connection makes the host unreachable; once freed, it connects', async () => {
    held = await holdConnection(sshd.port);
    const err = await connect(sshd.spec('throttled')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnreachableError);
    expect((err as Error).message).toMatch(/^\[throttled\] unreachable: .*2 attempts/);
    held.destroy();
    held = undefined;
    const t = await connect(sshd.spec());
    expect((await t.exec('echo back')).stdout).toBe('back\n');
  });

  it('mid-run: the session is killed while MaxStartups refuses new ones: the next command is UnreachableError', async () => {
    const before = new Set(sshd.sessionPids());
    const t = await connect(sshd.spec('midrun'));
    expect((await t.exec('true')).code).toBe(0);
    const session = sshd.sessionPids().filter((p) => !before.has(p));
    expect(session).toHaveLength(1);
    held = await holdConnection(sshd.port);
    process.kill(session[0]!, 'SIGKILL');
    const err = await t.exec('true').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnreachableError);
    expect((err as Error).message).toMatch(/^\[midrun\] unreachable:/);
  });

  it('mid-run: a command in flight when the connection is reset fails as unreachable; the next command reconnects', async () => {
    const t = await connect(viaProxy(), { acceptNewHostKeys: true });
    let started!: () => void;
    const running = new Promise<void>((r) => (started = r));
    const inFlight = t.exec('echo started; sleep 30', { onOutput: (s) => s.includes('started') && started() }).catch((e: unknown) => e);
    await running;
    proxy.resetAll();
    const err = await inFlight;
    expect(err).toBeInstanceOf(UnreachableError);
    expect((err as Error).message).toMatch(/connection lost while running: echo started/);
    expect((await t.exec('echo again')).stdout).toBe('again\n');
  });

  it('a reset between commands is healed by one reconnect', async () => {
    const t = await connect(viaProxy(), { acceptNewHostKeys: true });
    expect((await t.exec('echo one')).stdout).toBe('one\n');
    proxy.resetAll();
    expect((await t.exec('echo two')).stdout).toBe('two\n');
  });

  it('a drop during the key exchange (after the banner) is a failed attempt, not a crash or a hang', async () => {
    proxy.resetAfterServerBytes(300);
    const err = await connect(viaProxy(), { acceptNewHostKeys: true }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnreachableError);
  });

  it('a connection that keeps dropping is given up after the reconnect budget', async () => {
    const t = await connect(viaProxy(), { acceptNewHostKeys: true, maxReconnects: 2 });
    for (let i = 0; i < 2; i++) {
      proxy.resetAll();
      expect((await t.exec(`echo ${i}`)).stdout).toBe(`${i}\n`);
    }
    proxy.resetAll();
    const err = await t.exec('true').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnreachableError);
    expect((err as Error).message).toMatch(/connection lost 3 times/);
  });

  it('a forwarded stream whose connection is reset closes without an unhandled error', async () => {
    const t = await connect(viaProxy(), { acceptNewHostKeys: true });
    const stream = await t.forward('127.0.0.1', sshd.port);
    const banner = await new Promise<string>((r) => stream.once('data', (d: Buffer) => r(d.toString())));
    expect(banner).toMatch(/^SSH-2\.0-OpenSSH/);
    const closed = new Promise<void>((r) => stream.once('close', () => r()));
    proxy.resetAll();
    await closed;
    const err = await t.forward('127.0.0.1', 1).catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/forward to 127\.0\.0\.1:1/);
  });
});
