import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ConnectionSpec } from '../../src/inventory/connection.js';

const SSHD = '/usr/sbin/sshd';

/** A private OpenSSH server on 127.0.0.1 (its own config, host key and authorized key), ended by its PID. */
export interface LoopbackSshd {
  port: number;
  pid: number;
  dir: string;
  /** Client key (0600) whose public half is the only authorized key. */
  keyPath: string;
  knownHostsFile: string;
  /** Connection spec for SshTransport.connect. */
  spec(host?: string): ConnectionSpec;
  /** PIDs of the per-connection sshd processes (direct children of the listener). */
  sessionPids(): number[];
  stop(): Promise<void>;
}

export function sshdAvailable(): boolean {
  return existsSync(SSHD) && process.getuid?.() === 0;
}

export async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise((r) => srv.close(r));
  return port;
}

/** Starts `sshd -D` on a free loopback port; `extraConfig` lines go into its sshd_config (e.g. MaxStartups 1:100:1). */
export async function startLoopbackSshd(extraConfig: string[] = []): Promise<LoopbackSshd> {
  const dir = mkdtempSync(join(tmpdir(), 'a-sshd-'));
  const hostKey = join(dir, 'host_ed25519');
  const keyPath = join(dir, 'client_ed25519');
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', hostKey]);
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', keyPath]);
  writeFileSync(join(dir, 'authorized_keys'), readFileSync(`${keyPath}.pub`), { mode: 0o600 });
  const port = await freePort();
  const knownHostsFile = join(dir, 'known_hosts');
  const [type, blob] = readFileSync(`${hostKey}.pub`, 'utf8').trim().split(/\s+/);
  writeFileSync(knownHostsFile, `[127.0.0.1]:${port} ${type} ${blob}\n`);
  const config = join(dir, 'sshd_config');
  writeFileSync(
    config,
    [
      `ListenAddress 127.0.0.1:${port}`,
      `HostKey ${hostKey}`,
      `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
      'PermitRootLogin prohibit-password',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'UsePAM no',
      'StrictModes no',
      'PidFile none',
      'LogLevel VERBOSE',
      'LoginGraceTime 60',
      ...extraConfig,
      '',
    ].join('\n'),
  );
  mkdirSync('/run/sshd', { recursive: true, mode: 0o755 }); // sshd's privilege separation directory
  const child: ChildProcess = spawn(SSHD, ['-D', '-e', '-f', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr!.on('data', (d: Buffer) => (log += d.toString()));
  await waitForListener(port, child, () => log);
  const pid = child.pid!;
  return {
    port,
    pid,
    dir,
    keyPath,
    knownHostsFile,
    spec: (host = 'loopback') => ({ host, address: '127.0.0.1', port, user: 'root', privateKeyPath: keyPath, knownHostsFile, become: false, becomeUser: 'root', connectTimeoutMs: 5000 }),
    sessionPids: () => childrenOf(pid),
    stop: async () => {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function waitForListener(port: number, child: ChildProcess, log: () => string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (child.exitCode !== null) throw new Error(`sshd exited with ${child.exitCode}: ${log()}`);
    if (log().includes('Server listening')) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`sshd did not listen on 127.0.0.1:${port}: ${log()}`);
}

function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) out.push(Number(entry));
    } catch {
      // the process ended while we looked
    }
  }
  return out;
}

/** An unauthenticated TCP connection held open to a port (it fills a MaxStartups slot until closed). */
export async function holdConnection(port: number): Promise<net.Socket> {
  const s = net.connect(port, '127.0.0.1');
  s.on('error', () => {});
  await new Promise<void>((resolve) => s.once('data', () => resolve())); // the server's banner: it counts us now
  return s;
}
