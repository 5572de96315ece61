// Fixed locations and naming rules of the sandbox (everything we create carries the `pv` prefix).
import { join } from 'node:path';

export const STATE_ROOT = '/var/lib/provision-sandbox';
export const CACHE_ROOT = '/var/cache/provision-sandbox';
export const LOCK_DIR = join(STATE_ROOT, '.locks');
export const BASE_DIR = join(CACHE_ROOT, 'bookworm-base');

export const SUBNET_PREFIX = '10.77';
export const SANDBOX_SUPERNET = '10.77.0.0/16';
export const MAX_INDEX = 250;
/** Host slot i gets address 10.77.K.(10+i). */
export const MAX_SLOT = 244;

export const APT_PROXY_IF = 'pvapt0';
export const APT_PROXY_ADDR = '10.77.255.1';
export const APT_PROXY_PORT = 3143;
export const APT_PROXY_URL = `http://${APT_PROXY_ADDR}:${APT_PROXY_PORT}`;
export const APT_PROXY_DIR = join(CACHE_ROOT, 'acng');
export const APT_PROXY_RUN = join(STATE_ROOT, '.acng');

export const NFT_TABLE = 'provision_sandbox';
export const DEBIAN_MIRROR = 'http://deb.debian.org/debian';
export const DEBIAN_SECURITY_MIRROR = 'http://deb.debian.org/debian-security';

/** Where each cgroup hierarchy of this machine keeps our hosts (filled by cgroup.ts). */
export const CGROUP_SUBDIR = 'provision-sandbox';

const NAME_RE = /^[a-z][a-z0-9-]{0,30}$/;
const HOST_RE = /^[a-z][a-z0-9-]{0,30}$/;

export function validateSandboxName(name: string): string {
  if (!NAME_RE.test(name) || name.endsWith('-')) {
    throw new Error(
      `invalid sandbox name "${name}": use 1-31 lower-case letters, digits and dashes, starting with a letter`,
    );
  }
  return name;
}

export function validateHostName(name: string): string {
  if (!HOST_RE.test(name) || name.endsWith('-')) {
    throw new Error(
      `invalid host name "${name}": use 1-31 lower-case letters, digits and dashes, starting with a letter`,
    );
  }
  return name;
}

export function stateDir(sandbox: string): string {
  return join(STATE_ROOT, sandbox);
}
export function statePath(sandbox: string): string {
  return join(stateDir(sandbox), 'state.json');
}
export function hostDir(sandbox: string, host: string): string {
  return join(stateDir(sandbox), 'hosts', host);
}
export function keyPath(sandbox: string): string {
  return join(stateDir(sandbox), 'id_ed25519');
}
export function knownHostsPath(sandbox: string): string {
  return join(stateDir(sandbox), 'known_hosts');
}
export function inventoryPath(sandbox: string): string {
  return join(stateDir(sandbox), 'inventory.yaml');
}

export function bridgeName(index: number): string {
  return `pvbr${index}`;
}
export function gatewayAddress(index: number): string {
  return `${SUBNET_PREFIX}.${index}.1`;
}
export function subnet(index: number): string {
  return `${SUBNET_PREFIX}.${index}.0/24`;
}
export function hostAddress(index: number, slot: number): string {
  return `${SUBNET_PREFIX}.${index}.${10 + slot}`;
}
/** Network namespace name, also used as the nspawn machine name. */
export function netnsName(index: number, host: string): string {
  return `pv${index}-${host}`;
}
/** Root-namespace side of the host's veth pair (max 15 chars: pv250h244). */
export function vethName(index: number, slot: number): string {
  return `pv${index}h${slot}`;
}
