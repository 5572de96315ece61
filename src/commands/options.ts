/**
 * What each command is given, already parsed and typed, and the one place their defaults are spelled: src/cli/
 * builds these from argv and ansible.cfg, `provision demo` builds them in code, and both start from the builders
 * below, so a command never sees a half-filled options object.
 */
import type { ConnectionDefaults } from '../inventory/connection.js';
import { PHASES, type Phase } from '../engine/phase.js';
import type { RotationStage } from '../pki/index.js';

/** Ansible Vault passwords: `--vault-password-file`, `--ask-vault-pass`, `--vault-id label@source`. */
export interface VaultOptions {
  passwordFiles: string[];
  askVaultPass: boolean;
  vaultIds: string[];
}

/** What every command that reads an inventory takes. */
export interface InventoryOptions {
  inventories: string[];
  /** `-e`: highest-precedence variables, as given (`k=v`, JSON or `@file`). */
  extraVars: string[];
  vault?: VaultOptions;
}

/** What every command that connects to hosts takes besides: ansible-playbook's connection flags and host keys. */
export interface ConnectOptions extends InventoryOptions {
  /** Host/group pattern, Ansible style: brokers | mq1,mq2 | all:!lb1. */
  limit?: string;
  /** ansible-playbook's connection flags and ansible.cfg's keys; a host's variables override them. */
  connection?: ConnectionDefaults;
  /** `-K/--ask-become-pass`: prompt once for the become (sudo) password. */
  askBecomePass?: boolean;
  knownHosts?: string;
  acceptNewHostKeys: boolean;
  /** `--ssh-handshakes N`: SSH handshakes in progress at once across the run's hosts (unset: DEFAULT_SSH_HANDSHAKES). */
  sshHandshakes?: number;
}

/** The ansible.cfg that was read (its keys are already folded into the options); only reported under --verbose. */
export interface AnsibleCfgSeen {
  file: string;
  ignored: string[];
}

export interface RunOptions extends ConnectOptions {
  playbook?: string;
  phases: Phase[];
  tags: string[];
  skipTags: string[];
  check: boolean;
  diff: boolean;
  forks: number;
  json?: string;
  listHosts: boolean;
  listTasks: boolean;
  /** List the tags of each play's steps, then exit. */
  listTags?: boolean;
  verbose: boolean;
  plain: boolean;
  /** Seconds to wait for another run's lock on the inventory (0: fail at once, exit 5). */
  waitLockSeconds?: number;
  /** `--syntax-check`: read inventory and playbook, report errors, contact nothing. */
  syntaxCheck?: boolean;
  ansibleCfg?: AnsibleCfgSeen;
}

export interface VerifyOptions extends ConnectOptions {
  /** Write the checks and their results as JSON. */
  json?: string;
}

export interface ExecOptions extends InventoryOptions {
  /** The hosts to run on (`ansible PATTERN`). */
  pattern: string;
  /** The shell command line, run with `sh -c` on each host. */
  command: string;
  forks: number;
  connection?: ConnectionDefaults;
  askBecomePass?: boolean;
  knownHosts?: string;
  acceptNewHostKeys: boolean;
}

/** What ansible-inventory prints: `--list`, `--graph [GROUP]` or `--host H`. */
export type InventoryListing = { list: true } | { graph: true; group?: string } | { host: string };

export interface InventoryListingOptions extends InventoryOptions {
  listing: InventoryListing;
}

export interface PkiOptions {
  inventories: string[];
  stage: RotationStage;
}

/** `provision sandbox ACTION`: what to do, checked whole before anything is done. */
export type SandboxAction =
  | { action: 'up' | 'add'; count: number; prefix?: string; names?: string[] }
  | { action: 'down'; all: boolean }
  /** `named`: one sandbox (--name given), else every sandbox. */
  | { action: 'status'; named: boolean }
  | { action: 'stop' | 'start' | 'reboot'; host: string }
  | { action: 'exec'; host: string; command: string };

export type SandboxOptions = SandboxAction & { name: string };

export interface DemoOptions {
  down: boolean;
  /** Build the real exporter from GitHub instead of the bundled stand-in. */
  upstreamExporter: boolean;
}

/**
 * Forks are in-process slots, not processes, and SSH handshakes are bounded on their own (DEFAULT_SSH_HANDSHAKES),
 * so a run works on up to 100 hosts at once (ansible-playbook's 10 made the 30- and 100-host no-op 10–15 % slower,
 * bench/RESULTS.md "1 to 100 hosts"; controller memory 97 → 132 MB at 100). exec keeps Ansible's ad-hoc default of 5.
 */
export const DEFAULT_FORKS = 100;
export const DEFAULT_EXEC_FORKS = 5;
/** The run-wide bound on SSH handshakes in flight (sshd's MaxStartups start, see src/transport/ssh.ts). */
export const DEFAULT_SSH_HANDSHAKES = 10;
export const DEFAULT_SANDBOX_NAME = 'default';

/** Options not given are the defaults; each builder is the only place its command's defaults live. */
type Given<T, K extends keyof T> = Pick<T, K> & Partial<T>;

function inventoryDefaults(inventories: string[]): InventoryOptions {
  return { inventories, extraVars: [] };
}

export function runOptions(given: Given<RunOptions, 'inventories'>): RunOptions {
  return {
    ...inventoryDefaults(given.inventories),
    phases: [...PHASES],
    tags: [],
    skipTags: [],
    check: false,
    diff: false,
    forks: DEFAULT_FORKS,
    listHosts: false,
    listTasks: false,
    verbose: false,
    acceptNewHostKeys: false,
    plain: false,
    ...given,
  };
}

export function verifyOptions(given: Given<VerifyOptions, 'inventories'>): VerifyOptions {
  return { ...inventoryDefaults(given.inventories), acceptNewHostKeys: false, ...given };
}

export function execOptions(given: Given<ExecOptions, 'inventories' | 'pattern' | 'command'>): ExecOptions {
  return { ...inventoryDefaults(given.inventories), forks: DEFAULT_EXEC_FORKS, acceptNewHostKeys: false, ...given };
}

export function inventoryListingOptions(given: Given<InventoryListingOptions, 'inventories' | 'listing'>): InventoryListingOptions {
  return { ...inventoryDefaults(given.inventories), ...given };
}

export function pkiOptions(given: Given<PkiOptions, 'inventories' | 'stage'>): PkiOptions {
  return { ...given };
}

export function sandboxOptions(given: SandboxAction & { name?: string | undefined }): SandboxOptions {
  return { ...given, name: given.name ?? DEFAULT_SANDBOX_NAME };
}

export function demoOptions(given: Partial<DemoOptions> = {}): DemoOptions {
  return { down: false, upstreamExporter: false, ...given };
}
