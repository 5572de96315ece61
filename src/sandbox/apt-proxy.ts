// A private apt-cacher-ng (one per machine, shared by all sandboxes) on 10.77.255.1:3143.
// The distribution's own apt-cacher-ng service (port 3142), if any, is never touched.
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { pidAlive, pidMatches, sleep } from './exec.js';
import { ensureProxyInterface, removeProxyInterface } from './network.js';
import {
  APT_PROXY_ADDR,
  APT_PROXY_DIR,
  APT_PROXY_PORT,
  APT_PROXY_RUN,
  APT_PROXY_URL,
} from './paths.js';

const CONF_DIR = join(APT_PROXY_RUN, 'conf');
const LOG_DIR = join(APT_PROXY_RUN, 'log');
const PID_FILE = join(APT_PROXY_RUN, 'pid');

function config(): string {
  return [
    '# provision sandbox apt proxy (generated)',
    `CacheDir: ${APT_PROXY_DIR}`,
    `LogDir: ${LOG_DIR}`,
    'SupportDir: /usr/lib/apt-cacher-ng',
    `Port: ${APT_PROXY_PORT}`,
    `BindAddress: ${APT_PROXY_ADDR}`,
    `SocketPath: ${join(APT_PROXY_RUN, 'socket')}`,
    `PidFile: ${join(APT_PROXY_RUN, 'acng.pid')}`,
    'ForeGround: 1',
    'ReportPage: acng-report.html',
    'ExThreshold: 4',
    // Only the Debian archive may be fetched: anything else is refused instead of leaving the machine.
    'Remap-debrep: deb.debian.org/debian ; http://deb.debian.org/debian/',
    'Remap-secdeb: deb.debian.org/debian-security ; http://deb.debian.org/debian-security/',
    'ForceManaged: 1',
    'PassThroughPattern: ^$',
    '',
  ].join('\n');
}

function recordedPid(): number | undefined {
  try {
    const n = Number(readFileSync(PID_FILE, 'utf8').trim());
    return n > 0 ? n : undefined;
  } catch {
    return undefined;
  }
}

/** PID of our apt-cacher-ng when it is running (checked by PID and command line, never by name). */
export function aptProxyPid(): number | undefined {
  const pid = recordedPid();
  return pidMatches(pid, 'apt-cacher-ng', CONF_DIR) ? pid : undefined;
}

export function portOpen(host: string, port: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host, port });
    const done = (ok: boolean) => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(timeoutMs, () => done(false));
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}

/** Starts the proxy unless ours is already running. Call under the global lock. */
export async function ensureAptProxy(log: (line: string) => void = () => {}): Promise<string> {
  await ensureProxyInterface();
  const running = aptProxyPid();
  if (running && (await portOpen(APT_PROXY_ADDR, APT_PROXY_PORT))) return APT_PROXY_URL;
  if (running) {
    // Ours but not answering: restart it.
    try {
      process.kill(running, 'SIGTERM');
    } catch {
      /* gone */
    }
    for (let i = 0; i < 30 && pidAlive(running); i++) await sleep(100);
  }
  if (await portOpen(APT_PROXY_ADDR, APT_PROXY_PORT)) {
    throw new Error(`${APT_PROXY_ADDR}:${APT_PROXY_PORT} is taken by a process that is not the sandbox's apt-cacher-ng`);
  }
  for (const d of [APT_PROXY_DIR, CONF_DIR, LOG_DIR]) mkdirSync(d, { recursive: true });
  writeFileSync(join(CONF_DIR, 'acng.conf'), config());
  const out = openSync(join(LOG_DIR, 'daemon.log'), 'a');
  const child = spawn('/usr/sbin/apt-cacher-ng', ['-c', CONF_DIR], {
    detached: true,
    stdio: ['ignore', out, out],
  });
  closeSync(out);
  child.unref();
  if (!child.pid) throw new Error('cannot start apt-cacher-ng');
  writeFileSync(PID_FILE, `${child.pid}\n`);
  const deadline = Date.now() + 15000;
  while (!(await portOpen(APT_PROXY_ADDR, APT_PROXY_PORT, 500))) {
    if (!pidAlive(child.pid)) {
      const tail = existsSync(join(LOG_DIR, 'daemon.log'))
        ? readFileSync(join(LOG_DIR, 'daemon.log'), 'utf8').split('\n').slice(-10).join('\n')
        : '';
      throw new Error(`apt-cacher-ng exited during startup:\n${tail}`);
    }
    if (Date.now() > deadline) throw new Error('apt-cacher-ng does not listen after 15 s');
    await sleep(100);
  }
  log(`apt proxy (apt-cacher-ng, pid ${child.pid}) listening on ${APT_PROXY_URL}`);
  return APT_PROXY_URL;
}

/** Stops our proxy (by recorded PID) and removes its address. Call under the global lock. */
export async function stopAptProxy(log: (line: string) => void = () => {}): Promise<void> {
  const pid = aptProxyPid();
  if (pid) {
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      /* gone */
    }
    for (let i = 0; i < 50 && pidAlive(pid); i++) await sleep(100);
    if (pidAlive(pid)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    log(`apt proxy (pid ${pid}) stopped`);
  }
  rmSync(PID_FILE, { force: true });
  await removeProxyInterface();
}
