// Public API of the sandbox: real Debian 12 hosts (systemd-nspawn containers with their own network
// namespace, systemd and sshd) on this machine, for end-to-end tests, the demo and benchmarks.
import { existsSync } from 'node:fs';
import { aptProxyPid, ensureAptProxy, stopAptProxy } from './apt-proxy.js';
import { ensureBaseImage } from './base-image.js';
import { removeSandboxCgroups } from './cgroup.js';
import { removeTree } from './fsutil.js';
import {
  bootHost,
  destroyHost,
  hostInitialized,
  hostRunning,
  HOSTS_BEGIN,
  HOSTS_END,
  leaderPid,
  nspawnPid,
  powerOff,
  reboot,
  sandboxHostsBlock,
  shellIn,
  supervisorPid,
  waitForSsh,
  writeIdentity,
  type ShellOptions,
} from './host.js';
import { ensureSandboxKey, writeInventory, writeKnownHosts } from './inventory.js';
import { withGlobalLock, withSandboxLock } from './lock.js';
import { ensureBridge, ensureFirewall, removeBridge, removeFirewall } from './network.js';
import {
  APT_PROXY_URL,
  bridgeName,
  gatewayAddress,
  inventoryPath,
  keyPath,
  knownHostsPath,
  stateDir,
  subnet,
  validateHostName,
  validateSandboxName,
} from './paths.js';
import { assertPlatform, ensurePrerequisites } from './prerequisites.js';
import {
  addHostRecords,
  allocateSandbox,
  listSandboxNames,
  loadState,
  saveState,
  type HostState,
  type SandboxState,
} from './state.js';

export { PrerequisiteError } from './prerequisites.js';
export type { ShellOptions } from './host.js';

export interface SandboxHost {
  name: string;
  address: string;
  netns: string;
  machine: string;
  /** PID of the host's PID 1 (its systemd) as seen from the controller: `nsenter -t <pid> -a`. */
  pid?: number;
  running: boolean;
  /** PID of the systemd-nspawn process currently running the host. */
  nspawnPid?: number;
  /** PID of the supervisor loop that restarts nspawn when the host reboots. */
  supervisorPid?: number;
}

export interface Sandbox {
  name: string;
  index: number;
  bridge: string;
  gateway: string;
  subnet: string;
  stateDir: string;
  keyPath: string;
  publicKeyPath: string;
  knownHostsPath: string;
  inventoryPath: string;
  aptProxy: string;
  hosts: SandboxHost[];
}

export interface SandboxUpOptions {
  name?: string;
  /** Number of hosts named <prefix>1..<prefix>N (ignored when names are given). */
  count: number;
  /** Host name prefix, default `node`. */
  prefix?: string;
  /** Explicit host names. */
  names?: string[];
  log?: (line: string) => void;
}

const DEFAULT_NAME = 'default';
const DEFAULT_PREFIX = 'node';

function toSandbox(state: SandboxState): Sandbox {
  return {
    name: state.name,
    index: state.index,
    bridge: bridgeName(state.index),
    gateway: gatewayAddress(state.index),
    subnet: subnet(state.index),
    stateDir: stateDir(state.name),
    keyPath: keyPath(state.name),
    publicKeyPath: `${keyPath(state.name)}.pub`,
    knownHostsPath: knownHostsPath(state.name),
    inventoryPath: inventoryPath(state.name),
    aptProxy: APT_PROXY_URL,
    hosts: [...state.hosts]
      .sort((a, b) => a.slot - b.slot)
      .map((h) => ({
        name: h.name,
        address: h.address,
        netns: h.netns,
        machine: h.machine,
        pid: leaderPid(state.name, h.name),
        running: hostRunning(state.name, h),
        nspawnPid: nspawnPid(state.name, h),
        supervisorPid: supervisorPid(state.name, h.name),
      })),
  };
}

function wantedNames(opts: { count: number; prefix?: string; names?: string[] }): string[] {
  if (opts.names && opts.names.length > 0) {
    const names = opts.names.map(validateHostName);
    if (new Set(names).size !== names.length) throw new Error(`duplicate host names: ${names.join(', ')}`);
    return names;
  }
  if (!Number.isInteger(opts.count) || opts.count < 0) throw new Error(`invalid host count: ${opts.count}`);
  const prefix = opts.prefix ?? DEFAULT_PREFIX;
  return Array.from({ length: opts.count }, (_, i) => validateHostName(`${prefix}${i + 1}`));
}

function requireState(name: string): SandboxState {
  const state = loadState(validateSandboxName(name));
  if (!state) throw new Error(`no sandbox named "${name}" (run: provision sandbox up N --name ${name})`);
  return state;
}

function requireHost(state: SandboxState, host: string): HostState {
  const h = state.hosts.find((x) => x.name === host);
  if (!h) {
    throw new Error(
      `sandbox "${state.name}" has no host "${host}" (hosts: ${state.hosts.map((x) => x.name).join(', ') || 'none'})`,
    );
  }
  return h;
}

/** Machine-wide pieces every running host needs: nft table and the apt proxy. */
async function ensureShared(log: (line: string) => void): Promise<void> {
  await withGlobalLock(async () => {
    await ensureFirewall();
    await ensureAptProxy(log);
  });
}

/** Rewrites the managed block of /etc/hosts on the given running hosts (after hosts were added). */
async function refreshHostsFiles(state: SandboxState, hosts: HostState[]): Promise<void> {
  const script = [
    'set -e',
    'tmp=$(mktemp)',
    `awk -v b='${HOSTS_BEGIN}' -v e='${HOSTS_END}' '$0==b{skip=1;next} $0==e{skip=0;next} !skip' /etc/hosts >"$tmp"`,
    'cat >>"$tmp"',
    'cat "$tmp" >/etc/hosts',
    'rm -f "$tmp"',
  ].join('\n');
  await Promise.all(
    hosts
      .filter((h) => leaderPid(state.name, h.name) !== undefined)
      .map((h) => shellIn(state.name, h.name, script, { input: sandboxHostsBlock(state), timeoutMs: 15_000 })),
  );
}

async function upLocked(name: string, names: string[], log: (line: string) => void): Promise<Sandbox> {
  let state = loadState(name);
  if (!state) {
    state = await withGlobalLock(async () => allocateSandbox(name));
    log(`sandbox "${name}": subnet ${subnet(state.index)} on bridge ${bridgeName(state.index)}`);
  }
  const st: SandboxState = state;
  await ensureShared(log);
  await ensureBridge(st.index);
  const publicKey = await ensureSandboxKey(st);
  const hadHosts = st.hosts.filter((h) => hostInitialized(st.name, h.name));
  const added = addHostRecords(st, names);
  saveState(st);
  const fresh = st.hosts.filter((h) => !hostInitialized(st.name, h.name));
  await Promise.all(fresh.map((h) => writeIdentity(st, h, publicKey)));
  writeKnownHosts(st);
  writeInventory(st);

  const toBoot = st.hosts.filter((h) => supervisorPid(st.name, h.name) === undefined);
  if (toBoot.length > 0) {
    const started = Date.now();
    log(`booting ${toBoot.map((h) => `${h.name} (${h.address})`).join(', ')}`);
    for (const h of toBoot) h.supervisorPid = await bootHost(st, h);
    saveState(st);
    await Promise.all(toBoot.map((h) => waitForSsh(st.name, h)));
    log(`${toBoot.length} host(s) answering ssh after ${((Date.now() - started) / 1000).toFixed(1)} s`);
  } else {
    // Already up: still make sure ssh answers (a host may be rebooting).
    await Promise.all(st.hosts.map((h) => waitForSsh(st.name, h)));
  }
  if (added.length > 0 && hadHosts.length > 0) await refreshHostsFiles(st, hadHosts);
  return toSandbox(st);
}

/**
 * Brings up (or completes) a sandbox: creates the hosts that are missing, boots those not running and
 * waits until every host answers ssh. Idempotent and fast when everything is already up.
 */
export async function sandboxUp(opts: SandboxUpOptions): Promise<Sandbox> {
  const log = opts.log ?? (() => {});
  const name = validateSandboxName(opts.name ?? DEFAULT_NAME);
  const names = wantedNames(opts);
  await ensurePrerequisites(log);
  await ensureBaseImage(log);
  return withSandboxLock(name, () => upLocked(name, names, log));
}

/**
 * Adds hosts to a sandbox (creating the sandbox when needed): `count` more hosts continuing the
 * numbering of `prefix` (default `node`), or the explicit `names`. Existing hosts are untouched.
 */
export async function addHosts(opts: {
  name?: string;
  count?: number;
  prefix?: string;
  names?: string[];
  log?: (line: string) => void;
}): Promise<Sandbox> {
  const log = opts.log ?? (() => {});
  const name = validateSandboxName(opts.name ?? DEFAULT_NAME);
  await ensurePrerequisites(log);
  await ensureBaseImage(log);
  return withSandboxLock(name, async () => {
    const existing = loadState(name)?.hosts.map((h) => h.name) ?? [];
    let names: string[];
    if (opts.names && opts.names.length > 0) {
      names = [...existing, ...wantedNames({ count: 0, names: opts.names }).filter((n) => !existing.includes(n))];
    } else {
      const prefix = opts.prefix ?? DEFAULT_PREFIX;
      const count = opts.count ?? 1;
      const re = new RegExp(`^${prefix.replace(/[-]/g, '\\-')}(\\d+)$`);
      let next = existing.reduce((m, n) => Math.max(m, Number(re.exec(n)?.[1] ?? 0)), 0);
      names = [...existing];
      for (let i = 0; i < count; i++) names.push(validateHostName(`${prefix}${++next}`));
    }
    return upLocked(name, names, log);
  });
}

/** Stops and removes a sandbox (or all): hosts by recorded PIDs, namespaces, bridge, overlays, state.
 * Stops the apt proxy and removes the nft table when no sandbox remains. Safe to run twice. */
export async function sandboxDown(opts: { name?: string; all?: boolean; log?: (line: string) => void } = {}): Promise<void> {
  assertPlatform();
  const log = opts.log ?? (() => {});
  const names = opts.all ? listSandboxNames() : [validateSandboxName(opts.name ?? DEFAULT_NAME)];
  for (const name of names) {
    await withSandboxLock(name, async () => {
      let state: SandboxState | undefined;
      try {
        state = loadState(name);
      } catch (e) {
        log(`sandbox "${name}": unreadable state (${(e as Error).message}); removing its directory`);
      }
      if (state) {
        const st = state;
        await Promise.all(st.hosts.map((h) => destroyHost(st.name, h)));
        removeSandboxCgroups(name);
        await removeBridge(st.index);
        log(`sandbox "${name}": removed ${st.hosts.length} host(s) and bridge ${bridgeName(st.index)}`);
      }
      if (existsSync(stateDir(name))) await removeTree(stateDir(name));
    });
  }
  await withGlobalLock(async () => {
    if (listSandboxNames().length > 0) return;
    if (aptProxyPid() !== undefined) log('no sandbox left: stopping the apt proxy');
    await stopAptProxy();
    await removeFirewall();
  });
}

/** The sandbox with live process information, or undefined when it does not exist. */
export async function sandboxStatus(opts: { name?: string } = {}): Promise<Sandbox | undefined> {
  assertPlatform();
  const state = loadState(validateSandboxName(opts.name ?? DEFAULT_NAME));
  return state ? toSandbox(state) : undefined;
}

/** Every existing sandbox. */
export async function sandboxList(): Promise<Sandbox[]> {
  assertPlatform();
  const out: Sandbox[] = [];
  for (const n of listSandboxNames()) {
    const s = loadState(n);
    if (s) out.push(toSandbox(s));
  }
  return out;
}

/** Hard power-off of one host (its PID 1 is killed; the supervisor does not restart it). */
export async function stopHost(sandbox: string, host: string): Promise<void> {
  assertPlatform();
  await withSandboxLock(sandbox, async () => {
    const state = requireState(sandbox);
    const h = requireHost(state, host);
    await powerOff(state.name, h);
    h.supervisorPid = undefined;
    saveState(state);
  });
}

/** Boots a powered-off host again with the same disk state and waits for ssh. No-op when running. */
export async function startHost(sandbox: string, host: string, opts: { log?: (line: string) => void } = {}): Promise<void> {
  const log = opts.log ?? (() => {});
  await ensurePrerequisites(log);
  await withSandboxLock(sandbox, async () => {
    const state = requireState(sandbox);
    const h = requireHost(state, host);
    await ensureShared(log);
    await ensureBridge(state.index);
    if (supervisorPid(state.name, h.name) === undefined) {
      h.supervisorPid = await bootHost(state, h);
      saveState(state);
    }
    await waitForSsh(state.name, h);
  });
}

/** `systemctl reboot` inside the host; returns when it answers ssh again. */
export async function rebootHost(sandbox: string, host: string): Promise<void> {
  assertPlatform();
  const state = requireState(sandbox);
  const h = requireHost(state, host);
  await reboot(state, h);
}

/** Runs a shell command as root inside the host (via nsenter into all its namespaces). */
export async function hostShell(
  sandbox: string,
  host: string,
  command: string,
  opts: ShellOptions = {},
): Promise<{ stdout: string; stderr: string; code: number }> {
  assertPlatform();
  const state = requireState(sandbox);
  requireHost(state, host);
  return shellIn(state.name, host, command, opts);
}

/** The ssh command line reaching a host with the sandbox key and known_hosts. */
export function sshCommand(sandbox: Sandbox, host: string): string[] {
  const h = sandbox.hosts.find((x) => x.name === host);
  if (!h) throw new Error(`sandbox "${sandbox.name}" has no host "${host}"`);
  return [
    'ssh',
    '-i',
    sandbox.keyPath,
    '-o',
    `UserKnownHostsFile=${sandbox.knownHostsPath}`,
    '-o',
    'StrictHostKeyChecking=yes',
    '-o',
    'IdentitiesOnly=yes',
    `root@${h.address}`,
  ];
}
