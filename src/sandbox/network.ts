// Root-namespace plumbing: one bridge per sandbox, one network namespace + veth pair per host,
// the apt proxy's address and an nftables table keeping sandbox traffic inside 10.77.0.0/16.
import { existsSync, readFileSync } from 'node:fs';
import { exec, run } from './exec.js';
import { isMountPoint } from './fsutil.js';
import {
  APT_PROXY_ADDR,
  APT_PROXY_IF,
  bridgeName,
  gatewayAddress,
  NFT_TABLE,
  SANDBOX_SUPERNET,
} from './paths.js';

const hex = (n: number) => n.toString(16).padStart(2, '0');
/** Locally administered MACs: 02:77:00:<K>:00:01 for bridge K, 02:77:01:<K>:<slot>:00 for a host's eth0. */
export function bridgeMac(index: number): string {
  return `02:77:00:${hex(index)}:00:01`;
}
export function hostMac(index: number, slot: number): string {
  return `02:77:01:${hex(index)}:${hex(slot)}:00`;
}

export function linkExists(name: string): boolean {
  return existsSync(`/sys/class/net/${name}`);
}

async function ipBatch(lines: string[], netns?: string): Promise<void> {
  const args = netns ? ['-n', netns, '-batch', '-'] : ['-batch', '-'];
  await run('ip', args, { input: lines.join('\n') + '\n' });
}

async function linkHasAddress(name: string, cidr: string, netns?: string): Promise<boolean> {
  const args = [...(netns ? ['-n', netns] : []), '-o', '-4', 'addr', 'show', 'dev', name];
  const r = await exec('ip', args);
  return r.code === 0 && r.stdout.includes(` ${cidr} `);
}

function linkIsUp(name: string): boolean {
  try {
    const flags = parseInt(readFileSync(`/sys/class/net/${name}/flags`, 'utf8').trim(), 16);
    return (flags & 1) === 1;
  } catch {
    return false;
  }
}

/** Creates bridge pvbr<K> with 10.77.K.1/24 (idempotent). */
export async function ensureBridge(index: number): Promise<void> {
  const br = bridgeName(index);
  const cidr = `${gatewayAddress(index)}/24`;
  if (!linkExists(br)) {
    // A fixed MAC: otherwise the bridge takes the lowest port MAC, which changes as hosts come and go,
    // and the hosts' ARP entries for the gateway/proxy go stale for seconds.
    await run('ip', ['link', 'add', br, 'address', bridgeMac(index), 'type', 'bridge', 'stp_state', '0', 'forward_delay', '0']);
  }
  if (!(await linkHasAddress(br, cidr))) await run('ip', ['addr', 'replace', cidr, 'dev', br]);
  if (!linkIsUp(br)) await run('ip', ['link', 'set', br, 'up']);
}

export async function removeBridge(index: number): Promise<void> {
  const br = bridgeName(index);
  if (linkExists(br)) await exec('ip', ['link', 'del', br]);
}

export function netnsExists(netns: string): boolean {
  return isMountPoint(`/run/netns/${netns}`);
}

/**
 * Network namespace of one host: eth0 (peer of <veth> on the bridge) with its address and a default
 * route via the bridge address. Idempotent; repairs a half-created namespace.
 */
export async function ensureHostNetwork(opts: {
  index: number;
  slot: number;
  netns: string;
  veth: string;
  address: string;
}): Promise<void> {
  const { index, slot, netns, veth, address } = opts;
  if (!netnsExists(netns)) {
    if (existsSync(`/run/netns/${netns}`)) await exec('ip', ['netns', 'del', netns]);
    await run('ip', ['netns', 'add', netns]);
  }
  const hasEth0 = (await exec('ip', ['-n', netns, 'link', 'show', 'dev', 'eth0'])).code === 0;
  if (!hasEth0 || !linkExists(veth)) {
    if (linkExists(veth)) await exec('ip', ['link', 'del', veth]);
    if (hasEth0) await exec('ip', ['-n', netns, 'link', 'del', 'eth0']);
    // eth0 keeps the same MAC when re-created, so the controller's ARP entry for the address stays valid.
    await run('ip', ['link', 'add', veth, 'type', 'veth', 'peer', 'name', 'eth0', 'address', hostMac(index, slot), 'netns', netns]);
    await exec('ip', ['neigh', 'flush', 'to', address, 'dev', bridgeName(index)]);
  }
  await ipBatch([`link set ${veth} master ${bridgeName(index)}`, `link set ${veth} up`]);
  const cidr = `${address}/24`;
  const gw = gatewayAddress(index);
  await ipBatch(
    [
      'link set lo up',
      `addr replace ${cidr} dev eth0`,
      'link set eth0 up',
      `route replace default via ${gw} dev eth0`,
    ],
    netns,
  );
}

/** Removes a host's namespace (its veth pair goes with it). */
export async function removeHostNetwork(netns: string, veth: string): Promise<void> {
  if (existsSync(`/run/netns/${netns}`)) await exec('ip', ['netns', 'del', netns]);
  if (linkExists(veth)) await exec('ip', ['link', 'del', veth]);
}

/** The apt proxy's address 10.77.255.1/32 on an otherwise unused, port-less bridge `pvapt0`
 * (this kernel has no dummy interfaces). Hosts reach it through their default route. */
export async function ensureProxyInterface(): Promise<void> {
  if (!linkExists(APT_PROXY_IF)) {
    await run('ip', ['link', 'add', APT_PROXY_IF, 'type', 'bridge']);
  }
  const cidr = `${APT_PROXY_ADDR}/32`;
  if (!(await linkHasAddress(APT_PROXY_IF, cidr))) await run('ip', ['addr', 'replace', cidr, 'dev', APT_PROXY_IF]);
  if (!linkIsUp(APT_PROXY_IF)) await run('ip', ['link', 'set', APT_PROXY_IF, 'up']);
}

export async function removeProxyInterface(): Promise<void> {
  if (linkExists(APT_PROXY_IF)) await exec('ip', ['link', 'del', APT_PROXY_IF]);
}

/**
 * nftables table keeping the sandbox network closed. Packets from the hosts to anything outside
 * 10.77.0.0/16 (the Internet, the controller's other addresses) are rejected in prerouting, so an attempt
 * fails at once instead of timing out (with ip_forward off the kernel would drop them silently).
 * The forward rule is a second line of defence should forwarding ever be enabled on this machine.
 * Traffic inside a sandbox subnet is bridged (br_netfilter shows it to these hooks too) and untouched.
 */
export function firewallRuleset(): string {
  const net = SANDBOX_SUPERNET;
  return `table inet ${NFT_TABLE} {
  chain prerouting {
    type filter hook prerouting priority filter - 10; policy accept;
    iifname "pvbr*" ip daddr != ${net} fib daddr type { unicast, local } counter reject with icmpx type admin-prohibited
    iifname "pvbr*" ip daddr != ${net} counter drop
    iifname "pvbr*" ip6 daddr != { fe80::/10, ff00::/8 } counter reject with icmpx type admin-prohibited
  }
  chain forward {
    type filter hook forward priority filter - 10; policy accept;
    ip saddr ${net} ip daddr != ${net} counter reject with icmpx type admin-prohibited
    iifname "pvbr*" meta nfproto ipv6 counter reject with icmpx type admin-prohibited
  }
}
`;
}

/** Marker proving the installed table is the current ruleset. */
const FIREWALL_MARK = 'fib daddr type { unicast, local }';

export async function ensureFirewall(): Promise<void> {
  const cur = await exec('nft', ['list', 'table', 'inet', NFT_TABLE]);
  if (cur.code === 0 && cur.stdout.includes(FIREWALL_MARK) && cur.stdout.includes('chain forward')) return;
  if (cur.code === 0) await exec('nft', ['delete', 'table', 'inet', NFT_TABLE]);
  await run('nft', ['-f', '-'], { input: firewallRuleset() });
}

export async function removeFirewall(): Promise<void> {
  const cur = await exec('nft', ['list', 'table', 'inet', NFT_TABLE]);
  if (cur.code === 0) await exec('nft', ['delete', 'table', 'inet', NFT_TABLE]);
}
