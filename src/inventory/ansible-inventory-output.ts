import path from 'node:path';
import { InputError } from '../errors.js';
import { MASK, Secret } from '../secrets.js';
import { LookupRef, UnsafeText, VaultRef } from './markers.js';
import { SENSITIVE_NAME } from './resolve.js';
import type { Inventory } from './types.js';
import { DECRYPTED_FILES } from './vault.js';

/**
 * `ansible-inventory --list | --graph | --host H`, byte for byte where the data allows, so users can diff the two.
 * Variables are shown as written (not templated), merged by precedence, like ansible-inventory. Differences on
 * purpose: values of variables named like passwords/secrets/tokens and of vault-encrypted files are masked.
 */

/** Python json.dumps(sort_keys=True, indent=4) has the same layout as this. */
function dump(v: unknown): string {
  return JSON.stringify(sortKeys(v), null, 4);
}

function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v !== null && typeof v === 'object') return Object.fromEntries(Object.keys(v).sort().map((k) => [k, sortKeys((v as Record<string, unknown>)[k])]));
  return v;
}

/** A raw value as ansible-inventory prints it: `!vault` as `{"__ansible_vault": …}`, `!unsafe` as `{"__ansible_unsafe": …}`. */
function shown(v: unknown, masked: boolean): unknown {
  if (v instanceof VaultRef) return { __ansible_vault: v.ciphertext };
  if (v instanceof LookupRef) return v.written ?? v.describe();
  if (v instanceof UnsafeText) return { __ansible_unsafe: masked ? MASK : v.text };
  if (v instanceof Secret) return MASK;
  if (Array.isArray(v)) return v.map((x) => shown(x, masked));
  if (v !== null && typeof v === 'object') {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, shown(x, masked || SENSITIVE_NAME.test(k))]));
  }
  if (masked && (typeof v === 'string' || typeof v === 'number')) return MASK;
  return v;
}

export function hostVarsAsWritten(inv: Inventory, host: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, e] of inv.rawVars?.(host) ?? []) {
    const fromVault = 'file' in e && DECRYPTED_FILES.has(path.resolve(String((e as { file: string }).file)));
    out[name] = shown(e.value, SENSITIVE_NAME.test(name) || fromVault);
  }
  return out;
}

/** `ansible-inventory --list`: groups with their own hosts and children, `_meta.hostvars`. */
export function inventoryList(inv: Inventory): string {
  const out: Record<string, unknown> = {};
  const seen = new Set<string>();
  const visit = (name: string) => {
    const g = inv.groups.get(name)!;
    const entry: Record<string, unknown> = {};
    if (name !== 'all' && g.directHosts?.length) entry.hosts = g.directHosts;
    if (g.children.length) entry.children = g.children;
    for (const c of g.children) {
      if (seen.has(c)) continue;
      seen.add(c);
      visit(c);
    }
    if (Object.keys(entry).length) out[name] = entry;
  };
  visit('all');
  const hostvars: Record<string, unknown> = {};
  for (const h of inv.hostOrder) {
    const vars = hostVarsAsWritten(inv, h);
    if (Object.keys(vars).length) hostvars[h] = vars;
  }
  out._meta = { hostvars };
  return dump(out);
}

/** `ansible-inventory --host H`. */
export function inventoryHost(inv: Inventory, host: string): string {
  if (!inv.hosts.has(host)) throw new InputError(`you must pass a single valid host to --host parameter: '${host}' is not in the inventory`);
  return dump(hostVarsAsWritten(inv, host));
}

/** `ansible-inventory --graph [GROUP]`. */
export function inventoryGraph(inv: Inventory, group = 'all'): string {
  if (!inv.groups.has(group)) throw new InputError(`pattern must be a valid group name when using --graph: '${group}' is not a group`);
  const lines: string[] = [];
  const name = (text: string, depth: number) => (depth ? `${'  |'.repeat(depth)}--${text}` : text);
  const walk = (g: string, depth: number) => {
    lines.push(name(`@${g}:`, depth));
    const grp = inv.groups.get(g)!;
    for (const c of grp.children) walk(c, depth + 1);
    if (g !== 'all') {
      for (const h of grp.directHosts ?? []) lines.push(name(h, depth + 1));
    }
  };
  walk(group, 0);
  return lines.join('\n');
}
