// Persistent description of each sandbox: /var/lib/provision-sandbox/<name>/state.json.
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { z } from 'zod';
import {
  bridgeName,
  hostAddress,
  MAX_INDEX,
  MAX_SLOT,
  netnsName,
  STATE_ROOT,
  stateDir,
  statePath,
  validateSandboxName,
  vethName,
} from './paths.js';

export const HostStateSchema = z.object({
  name: z.string(),
  slot: z.number().int().min(1).max(MAX_SLOT),
  address: z.string(),
  netns: z.string(),
  machine: z.string(),
  veth: z.string(),
  createdAt: z.string(),
  /** PID of the supervisor loop (restarts nspawn on reboot); absent when the host is powered off. */
  supervisorPid: z.number().int().optional(),
});
export type HostState = z.infer<typeof HostStateSchema>;

export const SandboxStateSchema = z.object({
  version: z.literal(1),
  name: z.string(),
  index: z.number().int().min(0).max(MAX_INDEX),
  bridge: z.string(),
  createdAt: z.string(),
  hosts: z.array(HostStateSchema),
});
export type SandboxState = z.infer<typeof SandboxStateSchema>;

export function loadState(name: string): SandboxState | undefined {
  const p = statePath(name);
  if (!existsSync(p)) return undefined;
  const raw = JSON.parse(readFileSync(p, 'utf8')) as unknown;
  return SandboxStateSchema.parse(raw);
}

export function saveState(state: SandboxState): void {
  mkdirSync(stateDir(state.name), { recursive: true, mode: 0o700 });
  const p = statePath(state.name);
  const tmp = `${p}.tmp-${process.pid}`;
  writeFileSync(tmp, JSON.stringify(state, null, 2) + '\n', { mode: 0o600 });
  renameSync(tmp, p);
}

/** Names of every sandbox that has a state file. */
export function listSandboxNames(): string[] {
  if (!existsSync(STATE_ROOT)) return [];
  return readdirSync(STATE_ROOT, { withFileTypes: true })
    .filter((d) => d.isDirectory() && !d.name.startsWith('.') && existsSync(statePath(d.name)))
    .map((d) => d.name)
    .sort();
}

export function listStates(): SandboxState[] {
  const out: SandboxState[] = [];
  for (const n of listSandboxNames()) {
    try {
      const s = loadState(n);
      if (s) out.push(s);
    } catch {
      /* unreadable state: ignored for allocation purposes */
    }
  }
  return out;
}

/** Creates the state of a new sandbox with the lowest free subnet index. Call under the global lock. */
export function allocateSandbox(name: string): SandboxState {
  validateSandboxName(name);
  const used = new Set(listStates().map((s) => s.index));
  let index = -1;
  for (let k = 0; k <= MAX_INDEX; k++) {
    if (!used.has(k)) {
      index = k;
      break;
    }
  }
  if (index < 0) throw new Error(`no free sandbox subnet index (all of 0..${MAX_INDEX} in use)`);
  const state: SandboxState = {
    version: 1,
    name,
    index,
    bridge: bridgeName(index),
    createdAt: new Date().toISOString(),
    hosts: [],
  };
  saveState(state);
  return state;
}

/** Adds host records (not yet created on the machine) for names that are missing; returns the new ones. */
export function addHostRecords(state: SandboxState, names: string[]): HostState[] {
  const added: HostState[] = [];
  for (const name of names) {
    if (state.hosts.some((h) => h.name === name)) continue;
    const usedSlots = new Set(state.hosts.map((h) => h.slot));
    let slot = 0;
    for (let i = 1; i <= MAX_SLOT; i++) {
      if (!usedSlots.has(i)) {
        slot = i;
        break;
      }
    }
    if (!slot) throw new Error(`sandbox ${state.name} is full (${MAX_SLOT} hosts)`);
    const host: HostState = {
      name,
      slot,
      address: hostAddress(state.index, slot),
      netns: netnsName(state.index, name),
      machine: netnsName(state.index, name),
      veth: vethName(state.index, slot),
      createdAt: new Date().toISOString(),
    };
    state.hosts.push(host);
    added.push(host);
  }
  return added;
}
