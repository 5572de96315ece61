import { isIP } from 'node:net';
import type { HostContext } from '../../engine/types.js';

export type FirewallBackend = 'firewalld' | 'nftables' | 'ufw';

export interface AllowRule {
  port: number;
  proto?: 'tcp' | 'udp' | 'vrrp';
  /** CIDRs or addresses; empty or missing = from anywhere. */
  sources?: string[];
  comment?: string;
}

/** One normalised rule: sources empty = anywhere. */
export interface Rule {
  port: number;
  /** `vrrp` (IP protocol 112, keepalived between load balancers) has no port: `port` is 0. */
  proto: 'tcp' | 'udp' | 'vrrp';
  sources: string[];
  comment: string;
}

/** SSH first (the port given and the one this run uses), then the rules asked for; same port+proto merged. */
export function effectiveRules(ctx: HostContext, o: { allow: AllowRule[]; sshPort?: number }): Rule[] {
  const ssh = [...new Set([o.sshPort, ctx.transport?.sshPort].filter((p): p is number => typeof p === 'number'))];
  if (ssh.length === 0) ssh.push(22);
  const all: Rule[] = [
    ...ssh.map((port): Rule => ({ port, proto: 'tcp', sources: [], comment: 'SSH' })),
    ...o.allow.map((r): Rule => ({ port: r.port, proto: r.proto ?? 'tcp', sources: [...new Set((r.sources ?? []).map(normaliseSource))], comment: r.comment ?? '' })),
  ];
  const merged: Rule[] = [];
  for (const r of all) {
    const same = merged.find((m) => m.port === r.port && m.proto === r.proto);
    if (!same) merged.push({ ...r, sources: [...r.sources] });
    else if (same.sources.length > 0) {
      // Anywhere wins over a source list.
      same.sources = r.sources.length === 0 ? [] : [...new Set([...same.sources, ...r.sources])];
      if (!same.comment) same.comment = r.comment;
    }
  }
  return merged;
}

/** Canonical address/CIDR: IPv4 network address without /32, IPv6 compressed lower-case without /128 (as ufw stores them). */
export function normaliseSource(src: string): string {
  const [addr = '', bits, extra] = src.trim().split('/');
  if (extra !== undefined) throw new Error(`firewall: invalid source ${JSON.stringify(src)}`);
  const v = isIP(addr);
  const max = v === 4 ? 32 : 128;
  const n = bits === undefined ? max : Number(bits);
  if (v === 0 || !/^\d*$/.test(bits ?? '') || !Number.isInteger(n) || n < 0 || n > max) throw new Error(`firewall: invalid source ${JSON.stringify(src)}`);
  if (v === 4) {
    const num = addr.split('.').reduce((acc, o) => acc * 256 + Number(o), 0);
    const net = n === 0 ? 0 : (num - (num % 2 ** (32 - n)));
    const dotted = [24, 16, 8, 0].map((s) => Math.floor(net / 2 ** s) % 256).join('.');
    return n === 32 ? dotted : `${dotted}/${n}`;
  }
  const canon = new URL(`http://[${addr}]`).hostname.slice(1, -1);
  return n === 128 ? canon : `${canon}/${n}`;
}

export function family(src: string): 4 | 6 {
  return src.includes(':') ? 6 : 4;
}

/** Printable comment for rule annotations (nft/ufw): no quotes or control characters, bounded length. */
export function safeComment(c: string): string {
  return c.replace(/[^\x20-\x7e]/g, ' ').replace(/["'\\]/g, '').trim().slice(0, 60);
}

export function describe(r: Rule): string {
  return `${r.port}/${r.proto}${r.sources.length ? ` from ${r.sources.join(' ')}` : ''}`;
}
