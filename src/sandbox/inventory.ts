// Files handed to the provisioning side: an Ansible-style YAML inventory and an OpenSSH known_hosts.
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { run } from './exec.js';
import { hostKnownHostsLines } from './host.js';
import { inventoryPath, keyPath, knownHostsPath } from './paths.js';
import type { SandboxState } from './state.js';

function atomicWrite(path: string, content: string, mode = 0o644): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, content, { mode });
  renameSync(tmp, path);
}

export function renderInventory(state: SandboxState): string {
  const lines = [
    `# provision sandbox "${state.name}" (generated; subnet 10.77.${state.index}.0/24)`,
    'all:',
    '  vars:',
    '    ansible_user: root',
    `    ansible_ssh_private_key_file: ${keyPath(state.name)}`,
    `    provision_known_hosts_file: ${knownHostsPath(state.name)}`,
    '  children:',
    '    sandbox:',
  ];
  if (state.hosts.length === 0) lines.push('      hosts: {}');
  else {
    lines.push('      hosts:');
    for (const h of [...state.hosts].sort((a, b) => a.slot - b.slot)) {
      lines.push(`        ${h.name}: { ansible_host: ${h.address} }`);
    }
  }
  return lines.join('\n') + '\n';
}

export function writeInventory(state: SandboxState): void {
  atomicWrite(inventoryPath(state.name), renderInventory(state));
}

export function writeKnownHosts(state: SandboxState): void {
  const lines = [...state.hosts].sort((a, b) => a.slot - b.slot).flatMap((h) => hostKnownHostsLines(state.name, h));
  atomicWrite(knownHostsPath(state.name), lines.join('\n') + (lines.length ? '\n' : ''));
}

/** The sandbox's ssh key pair (ed25519), generated once. Returns the public key line. */
export async function ensureSandboxKey(state: SandboxState): Promise<string> {
  const key = keyPath(state.name);
  if (!existsSync(key) || !existsSync(`${key}.pub`)) {
    mkdirSync(dirname(key), { recursive: true, mode: 0o700 });
    await run('rm', ['-f', key, `${key}.pub`]);
    await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', `provision-sandbox-${state.name}`, '-f', key]);
  }
  return readFileSync(`${key}.pub`, 'utf8').trim();
}
