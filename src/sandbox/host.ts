// One sandbox host: an overlay root on the shared base tree, booted by systemd-nspawn in its own
// network namespace and cgroup, kept alive across reboots by a tiny detached supervisor loop.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  chownSync,
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { connect } from 'node:net';
import { dirname, join } from 'node:path';
import { ensureHostCgroups, hostCgroupDirs, hostCgroupPids, removeHostCgroups } from './cgroup.js';
import { exec, ExecResult, pidAlive, pidMatches, run, sleep } from './exec.js';
import { isMountPoint, removeTree, unmountUnder } from './fsutil.js';
import { ensureHostNetwork, removeHostNetwork } from './network.js';
import { BASE_DIR, gatewayAddress, hostDir } from './paths.js';
import type { HostState, SandboxState } from './state.js';

export const HOST_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export interface HostPaths {
  dir: string;
  upper: string;
  work: string;
  merged: string;
  logDir: string;
  nspawnLog: string;
  supervisorLog: string;
  supervisorScript: string;
  nspawnScript: string;
  supervisorPidFile: string;
  nspawnPidFile: string;
  stopFlag: string;
}

export function hostPaths(sandbox: string, host: string): HostPaths {
  const dir = hostDir(sandbox, host);
  return {
    dir,
    upper: join(dir, 'upper'),
    work: join(dir, 'work'),
    merged: join(dir, 'merged'),
    logDir: join(dir, 'log'),
    nspawnLog: join(dir, 'log', 'nspawn.log'),
    supervisorLog: join(dir, 'log', 'supervisor.log'),
    supervisorScript: join(dir, 'supervise.sh'),
    nspawnScript: join(dir, 'nspawn.sh'),
    supervisorPidFile: join(dir, 'supervisor.pid'),
    nspawnPidFile: join(dir, 'nspawn.pid'),
    stopFlag: join(dir, 'stop'),
  };
}

// ---------------------------------------------------------------------------------------------
// Identity written into the overlay's upper dir before the first boot

/** Creates the directories of rel inside upper with the owner/mode of the same directories in the base
 * tree (a directory in the upper layer overrides the lower one's attributes). */
function mkdirLike(upper: string, rel: string): void {
  const parts = rel.split('/').filter(Boolean);
  let cur = '';
  for (const p of parts) {
    cur = cur ? `${cur}/${p}` : p;
    const target = join(upper, cur);
    if (existsSync(target)) continue;
    let mode = 0o755;
    let uid = 0;
    let gid = 0;
    try {
      const st = statSync(join(BASE_DIR, cur));
      mode = st.mode & 0o7777;
      uid = st.uid;
      gid = st.gid;
    } catch {
      /* not in the base tree */
    }
    mkdirSync(target, { mode });
    chmodSync(target, mode);
    chownSync(target, uid, gid);
  }
}

function writeUpper(upper: string, rel: string, content: string, mode = 0o644): void {
  mkdirLike(upper, dirname(rel));
  const p = join(upper, rel);
  writeFileSync(p, content, { mode });
  chmodSync(p, mode);
}

export const HOSTS_BEGIN = '# provision-sandbox hosts (begin)';
export const HOSTS_END = '# provision-sandbox hosts (end)';

export function sandboxHostsBlock(state: SandboxState): string {
  return [HOSTS_BEGIN, ...state.hosts.map((h) => `${h.address}\t${h.name}`), HOSTS_END, ''].join('\n');
}

function etcHosts(state: SandboxState): string {
  return [
    '127.0.0.1\tlocalhost',
    '::1\t\tlocalhost ip6-localhost ip6-loopback',
    'ff02::1\t\tip6-allnodes',
    'ff02::2\t\tip6-allrouters',
    '',
    sandboxHostsBlock(state),
  ].join('\n');
}

/** True once the host's identity has been written (first creation done). */
export function hostInitialized(sandbox: string, host: string): boolean {
  return existsSync(join(hostPaths(sandbox, host).upper, 'etc/ssh/ssh_host_ed25519_key.pub'));
}

/** Writes hostname, hosts, machine-id, resolver, ssh host keys and root's authorized_keys. */
export async function writeIdentity(state: SandboxState, host: HostState, authorizedKey: string): Promise<void> {
  const p = hostPaths(state.name, host.name);
  for (const d of [p.upper, p.work, p.merged, p.logDir]) mkdirSync(d, { recursive: true, mode: 0o755 });
  const up = p.upper;
  writeUpper(up, 'etc/hostname', `${host.name}\n`);
  writeUpper(up, 'etc/hosts', etcHosts(state));
  writeUpper(up, 'etc/machine-id', `${randomBytes(16).toString('hex')}\n`, 0o444);
  // No DNS server in the sandbox: lookups fail at once (nothing listens on the gateway's port 53).
  writeUpper(up, 'etc/resolv.conf', `# provision sandbox: no DNS\nnameserver ${gatewayAddress(state.index)}\noptions timeout:1 attempts:1\n`);
  // The shared apt-cacher-ng can leave a request hanging when many hosts refresh at once: time out and retry.
  writeUpper(up, 'etc/apt/apt.conf.d/02provision-sandbox-timeouts', 'Acquire::http::Timeout "20";\nAcquire::Retries "5";\n');
  writeUpper(up, 'root/.ssh/authorized_keys', authorizedKey.trim() + '\n', 0o600);
  chmodSync(join(up, 'root/.ssh'), 0o700);
  mkdirLike(up, 'etc/ssh');
  const keygen = async (type: string, extra: string[]) => {
    const f = join(up, 'etc/ssh', `ssh_host_${type}_key`);
    rmSync(f, { force: true });
    rmSync(`${f}.pub`, { force: true });
    await run('ssh-keygen', ['-q', '-t', type, ...extra, '-N', '', '-C', `root@${host.name}`, '-f', f]);
  };
  await Promise.all([keygen('ed25519', []), keygen('ecdsa', ['-b', '256'])]);
}

/** `<address> <type> <key>` lines for known_hosts. */
export function hostKnownHostsLines(sandbox: string, host: HostState): string[] {
  const dir = join(hostPaths(sandbox, host.name).upper, 'etc/ssh');
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => /^ssh_host_.*_key\.pub$/.test(f))
    .sort()
    .map((f) => {
      const [type, key] = readFileSync(join(dir, f), 'utf8').trim().split(/\s+/);
      return `${host.address} ${type} ${key}`;
    });
}

// ---------------------------------------------------------------------------------------------
// Overlay, scripts, processes

export async function ensureOverlay(sandbox: string, host: string): Promise<void> {
  const p = hostPaths(sandbox, host);
  if (isMountPoint(p.merged)) return;
  for (const d of [p.upper, p.work, p.merged]) mkdirSync(d, { recursive: true, mode: 0o755 });
  // Upper root keeps the base root's mode.
  chmodSync(p.upper, statSync(BASE_DIR).mode & 0o7777);
  await run('mount', [
    '-t',
    'overlay',
    `pv-${sandbox}-${host}`,
    '-o',
    `lowerdir=${BASE_DIR},upperdir=${p.upper},workdir=${p.work}`,
    p.merged,
  ]);
}

function sq(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

function writeScripts(state: SandboxState, host: HostState): void {
  const p = hostPaths(state.name, host.name);
  const cgroups = hostCgroupDirs(state.name, host.name);
  const nspawnArgs = [
    'systemd-nspawn',
    '--boot',
    '--keep-unit',
    '--register=no',
    '--settings=no',
    `--network-namespace-path=/run/netns/${host.netns}`,
    '--private-network',
    '--console=passive',
    '--resolv-conf=off',
    '--timezone=off',
    '--link-journal=no',
    `--hostname=${host.name}`,
    '-M',
    host.machine,
    '-D',
    p.merged,
  ];
  const nspawn = [
    '#!/bin/sh',
    `# provision sandbox: boot ${state.name}/${host.name} in its own cgroup (generated)`,
    ...cgroups.map((c) => `mkdir -p ${sq(c)} && echo $$ > ${sq(join(c, 'cgroup.procs'))} || exit 90`),
    `exec ${nspawnArgs.map(sq).join(' ')}`,
    '',
  ].join('\n');
  const supervisor = [
    '#!/bin/sh',
    `# provision sandbox: supervisor of ${state.name}/${host.name} (generated).`,
    '# Restarts systemd-nspawn when the host reboots (exit code 133); stops on any other exit or when',
    '# the stop flag exists (hard power-off).',
    `D=${sq(p.dir)}`,
    "trap '' HUP INT",
    'while :; do',
    '  [ -e "$D/stop" ] && break',
    '  sh "$D/nspawn.sh" >>"$D/log/nspawn.log" 2>&1 &',
    '  pid=$!',
    '  echo "$pid" >"$D/nspawn.pid"',
    '  wait "$pid"',
    '  rc=$?',
    '  echo "$(date -u +%FT%TZ) systemd-nspawn (pid $pid) exited with code $rc" >>"$D/log/supervisor.log"',
    '  rm -f "$D/nspawn.pid"',
    '  [ "$rc" = 133 ] || break',
    'done',
    'rm -f "$D/supervisor.pid"',
    '',
  ].join('\n');
  writeFileSync(p.nspawnScript, nspawn, { mode: 0o755 });
  writeFileSync(p.supervisorScript, supervisor, { mode: 0o755 });
}

function readPid(file: string): number | undefined {
  try {
    const n = Number(readFileSync(file, 'utf8').trim());
    return n > 0 ? n : undefined;
  } catch {
    return undefined;
  }
}

export function supervisorPid(sandbox: string, host: string): number | undefined {
  const p = hostPaths(sandbox, host);
  const pid = readPid(p.supervisorPidFile);
  return pidMatches(pid, p.supervisorScript) ? pid : undefined;
}

export function nspawnPid(sandbox: string, host: HostState): number | undefined {
  const p = hostPaths(sandbox, host.name);
  const pid = readPid(p.nspawnPidFile);
  return pidMatches(pid, 'systemd-nspawn', host.machine) ? pid : undefined;
}

/** PID (in the controller's namespace) of the host's PID 1, i.e. its systemd. */
export function leaderPid(sandbox: string, host: string): number | undefined {
  for (const pid of hostCgroupPids(sandbox, host)) {
    try {
      const status = readFileSync(`/proc/${pid}/status`, 'utf8');
      const m = /^NSpid:\s+(.*)$/m.exec(status);
      if (!m) continue;
      const ids = m[1].trim().split(/\s+/);
      if (ids.length >= 2 && ids[ids.length - 1] === '1') return pid;
    } catch {
      /* exited */
    }
  }
  return undefined;
}

export function hostRunning(sandbox: string, host: HostState): boolean {
  return nspawnPid(sandbox, host) !== undefined || leaderPid(sandbox, host.name) !== undefined;
}

/** Resolves when sshd on address:22 sends its banner. */
export function sshBanner(address: string, timeoutMs = 1500): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: address, port: 22 });
    let buf = '';
    const done = (ok: boolean) => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(timeoutMs, () => done(false));
    s.on('data', (b: Buffer) => {
      buf += b.toString('latin1');
      if (buf.includes('\n')) done(buf.startsWith('SSH-'));
    });
    s.once('error', () => done(false));
    s.once('close', () => done(false));
  });
}

function logTail(file: string, lines = 20): string {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

/** Waits until the host answers ssh; fails early if its nspawn stopped. */
export async function waitForSsh(sandbox: string, host: HostState, timeoutMs = 120_000): Promise<void> {
  const p = hostPaths(sandbox, host.name);
  const deadline = Date.now() + timeoutMs;
  let downSince: number | undefined;
  for (;;) {
    if (await sshBanner(host.address)) return;
    const alive = supervisorPid(sandbox, host.name) !== undefined || hostRunning(sandbox, host);
    if (!alive) {
      downSince ??= Date.now();
      if (Date.now() - downSince > 1500) {
        throw new Error(
          `host ${sandbox}/${host.name} stopped while booting; last lines of ${p.nspawnLog}:\n${logTail(p.nspawnLog)}`,
        );
      }
    } else downSince = undefined;
    if (Date.now() > deadline) {
      throw new Error(
        `host ${sandbox}/${host.name} (${host.address}) did not answer ssh within ${timeoutMs / 1000} s; see ${p.nspawnLog}`,
      );
    }
    await sleep(150);
  }
}

/**
 * Boots a host (network namespace, overlay, cgroups, supervisor → systemd-nspawn). Does not wait for ssh.
 * Returns the supervisor PID. The host must have its identity written already.
 */
export async function bootHost(state: SandboxState, host: HostState): Promise<number> {
  const p = hostPaths(state.name, host.name);
  const existing = supervisorPid(state.name, host.name);
  if (existing) return existing;
  if (hostRunning(state.name, host)) {
    throw new Error(`host ${state.name}/${host.name} has a running container without supervisor; stop it first`);
  }
  await ensureHostNetwork({ index: state.index, slot: host.slot, netns: host.netns, veth: host.veth, address: host.address });
  await ensureOverlay(state.name, host.name);
  removeHostCgroups(state.name, host.name); // leftovers of a previous boot
  ensureHostCgroups(state.name, host.name);
  mkdirSync(p.logDir, { recursive: true });
  writeScripts(state, host);
  rmSync(p.stopFlag, { force: true });
  rmSync(p.nspawnPidFile, { force: true });
  const out = openSync(p.supervisorLog, 'a');
  const child = spawn('sh', [p.supervisorScript], { detached: true, stdio: ['ignore', out, out], cwd: p.dir });
  closeSync(out);
  child.unref();
  if (!child.pid) throw new Error(`cannot start the supervisor of ${state.name}/${host.name}`);
  writeFileSync(p.supervisorPidFile, `${child.pid}\n`);
  return child.pid;
}

function kill(pid: number | undefined, signal: NodeJS.Signals): void {
  if (!pid) return;
  try {
    process.kill(pid, signal);
  } catch {
    /* gone */
  }
}

/** Hard power-off: SIGKILL to the host's PID 1 (the kernel ends its whole PID namespace); the stop flag
 * keeps the supervisor from restarting it. Only PIDs recorded/derived for this host are signalled. */
export async function powerOff(sandbox: string, host: HostState): Promise<void> {
  const p = hostPaths(sandbox, host.name);
  if (!existsSync(p.dir)) return;
  writeFileSync(p.stopFlag, `${new Date().toISOString()}\n`);
  const sup = supervisorPid(sandbox, host.name);
  const nsp = nspawnPid(sandbox, host);
  kill(leaderPid(sandbox, host.name), 'SIGKILL');
  const deadline = Date.now() + 10_000;
  while (nspawnPid(sandbox, host) !== undefined && Date.now() < deadline) await sleep(50);
  if (nspawnPid(sandbox, host) !== undefined) kill(nsp, 'SIGKILL');
  // Whatever is still in the host's cgroup belongs to the host (e.g. a nspawn that had not yet started PID 1).
  for (let i = 0; i < 40; i++) {
    const left = hostCgroupPids(sandbox, host.name);
    if (left.length === 0) break;
    for (const pid of left) kill(pid, 'SIGKILL');
    await sleep(50);
  }
  for (let i = 0; i < 100 && sup && pidMatches(sup, p.supervisorScript); i++) await sleep(50);
  if (sup && pidMatches(sup, p.supervisorScript)) kill(sup, 'SIGKILL');
  rmSync(p.nspawnPidFile, { force: true });
  rmSync(p.supervisorPidFile, { force: true });
  removeHostCgroups(sandbox, host.name);
}

/** Removes everything of a powered-off host: overlay mount and dirs, network namespace, cgroups. */
export async function destroyHost(sandbox: string, host: HostState): Promise<void> {
  await powerOff(sandbox, host);
  const p = hostPaths(sandbox, host.name);
  await unmountUnder(p.dir);
  await removeHostNetwork(host.netns, host.veth);
  removeHostCgroups(sandbox, host.name);
  await removeTree(p.dir);
}

export interface ShellOptions {
  input?: string;
  timeoutMs?: number;
}

/** Runs a command as root inside the host (all its namespaces, via nsenter; independent of sshd). */
export async function shellIn(sandbox: string, host: string, command: string, opts: ShellOptions = {}): Promise<ExecResult> {
  const leader = leaderPid(sandbox, host);
  if (!leader) throw new Error(`host ${sandbox}/${host} is not running`);
  return exec(
    'nsenter',
    [
      '-t',
      String(leader),
      '-a',
      'env',
      '-i',
      `PATH=${HOST_PATH}`,
      'HOME=/root',
      'USER=root',
      'LOGNAME=root',
      'LANG=C.UTF-8',
      'TERM=dumb',
      '/bin/sh',
      '-c',
      command,
    ],
    { input: opts.input, timeoutMs: opts.timeoutMs },
  );
}

/** `systemctl reboot` inside; the supervisor restarts nspawn on exit code 133; waits for ssh again. */
export async function reboot(state: SandboxState, host: HostState, timeoutMs = 120_000): Promise<void> {
  const before = leaderPid(state.name, host.name);
  if (!before) throw new Error(`host ${state.name}/${host.name} is not running`);
  const r = await shellIn(state.name, host.name, 'systemctl reboot', { timeoutMs: 30_000 });
  if (r.code !== 0 && pidAlive(before)) {
    throw new Error(`systemctl reboot failed on ${state.name}/${host.name}: ${r.stderr.trim()}`);
  }
  const deadline = Date.now() + timeoutMs;
  while (pidAlive(before)) {
    if (Date.now() > deadline) throw new Error(`host ${state.name}/${host.name} did not shut down for reboot`);
    await sleep(50);
  }
  await waitForSsh(state.name, host, Math.max(5_000, deadline - Date.now()));
}
