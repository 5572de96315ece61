import { InputError } from '../errors.js';
import type { SourceLocation } from './types.js';
import type { LocNode } from './var-source.js';

/** One assignment of a variable: its raw value (lookups unresolved) and where it was written. */
export interface VarEntry {
  value: unknown;
  node: LocNode;
  file: string;
}

export interface GroupDef {
  name: string;
  /** Direct children, in the order first declared. */
  children: string[];
  parents: string[];
  /** Hosts declared directly in this group. */
  hosts: string[];
  vars: Map<string, VarEntry>;
  /** `ansible_group_priority` (default 1): among groups of the same depth, higher wins. */
  priority: number;
  loc?: SourceLocation;
  seq: number;
}

export interface HostDef {
  name: string;
  /** Groups the host was declared in directly. */
  groups: string[];
  vars: Map<string, VarEntry>;
  loc: SourceLocation;
  seq: number;
}

const at = (problem: string, loc: SourceLocation | undefined): InputError =>
  new InputError(problem, loc?.file, loc?.line, loc?.column);

/** Hosts, groups and inventory-file variables as declared, before any precedence is applied. */
export class InventoryBuilder {
  readonly groups = new Map<string, GroupDef>();
  readonly hosts = new Map<string, HostDef>();
  readonly hostOrder: string[] = [];
  #seq = 0;

  constructor() {
    this.addGroup('all');
    this.addGroup('ungrouped');
    this.addChild('all', 'ungrouped');
  }

  addGroup(name: string, loc?: SourceLocation): GroupDef {
    let g = this.groups.get(name);
    if (!g) {
      g = { name, children: [], parents: [], hosts: [], vars: new Map(), priority: 1, loc, seq: this.#seq++ };
      this.groups.set(name, g);
    } else if (!g.loc && loc && name !== 'all' && name !== 'ungrouped') {
      g.loc = loc;
    }
    return g;
  }

  /** Make `child` a child of `parent`; refuses `all` as a child and any cycle. */
  addChild(parent: string, child: string, loc?: SourceLocation): void {
    const p = this.addGroup(parent);
    const c = this.addGroup(child, loc);
    if (p.children.includes(child)) return;
    if (child === 'all') throw at(`group 'all' cannot be a child of '${parent}': every group is already inside 'all'`, loc);
    const back = this.#path(child, parent);
    if (back) {
      throw at(`group '${child}' cannot be a child of '${parent}': that makes a cycle (${[parent, ...back].join(' → ')})`, loc);
    }
    p.children.push(child);
    c.parents.push(parent);
  }

  /** A chain of children leading from `from` to `to`, if any. */
  #path(from: string, to: string, seen = new Set<string>()): string[] | undefined {
    if (from === to) return [to];
    if (seen.has(from)) return undefined;
    seen.add(from);
    for (const kid of this.groups.get(from)?.children ?? []) {
      const rest = this.#path(kid, to, seen);
      if (rest) return [from, ...rest];
    }
    return undefined;
  }

  addHost(name: string, group: string, loc: SourceLocation): HostDef {
    let h = this.hosts.get(name);
    if (!h) {
      h = { name, groups: [], vars: new Map(), loc, seq: this.#seq++ };
      this.hosts.set(name, h);
      this.hostOrder.push(name);
    }
    const g = this.addGroup(group);
    if (!h.groups.includes(group)) h.groups.push(group);
    if (!g.hosts.includes(name)) g.hosts.push(name);
    return h;
  }

  setGroupVar(group: string, key: string, entry: VarEntry): void {
    const g = this.addGroup(group);
    if (key === 'ansible_group_priority') {
      const n = typeof entry.value === 'string' && /^\s*-?\d+\s*$/.test(entry.value) ? Number(entry.value) : entry.value;
      if (typeof n !== 'number' || !Number.isInteger(n)) throw at(`ansible_group_priority must be an integer, got ${JSON.stringify(entry.value)}`, entry.node.loc);
      g.priority = n;
      return;
    }
    g.vars.set(key, entry);
  }

  setHostVar(host: string, key: string, entry: VarEntry): void {
    this.hosts.get(host)!.vars.set(key, entry);
  }

  /** Ansible's reconcile step: top-level groups under `all`, `ungrouped` = hosts in no other group; names must not clash. */
  finish(): void {
    for (const g of this.groups.values()) {
      if (g.name !== 'all' && g.parents.length === 0) this.addChild('all', g.name);
    }
    const ungrouped = this.groups.get('ungrouped')!;
    for (const h of this.hosts.values()) {
      const real = h.groups.filter((g) => g !== 'all' && g !== 'ungrouped');
      if (real.length > 0 && h.groups.includes('ungrouped')) {
        h.groups = h.groups.filter((g) => g !== 'ungrouped');
        ungrouped.hosts = ungrouped.hosts.filter((n) => n !== h.name);
      } else if (real.length === 0 && !ungrouped.hosts.includes(h.name)) {
        ungrouped.hosts.push(h.name);
        h.groups.push('ungrouped');
      }
    }
    for (const h of this.hosts.values()) {
      const g = this.groups.get(h.name);
      if (!g) continue;
      const groupFirst = g.loc !== undefined && g.seq < h.seq;
      const loc = groupFirst || !g.loc ? h.loc : g.loc;
      const where = groupFirst ? `a group at ${fmt(g.loc)}` : `a host at ${fmt(h.loc)}`;
      throw at(`'${h.name}' is used as both a host and a group (it is also ${where}): rename one of them`, loc);
    }
  }

  /** Length of the longest chain of parents up to `all` (all = 0), as Ansible orders groups. */
  depth(name: string, memo = new Map<string, number>()): number {
    const known = memo.get(name);
    if (known !== undefined) return known;
    const parents = this.groups.get(name)?.parents ?? [];
    const d = parents.length === 0 ? 0 : Math.max(...parents.map((p) => this.depth(p, memo) + 1));
    memo.set(name, d);
    return d;
  }

  /** The group and all its ancestors. */
  ancestors(name: string, into = new Set<string>()): Set<string> {
    if (into.has(name)) return into;
    into.add(name);
    for (const p of this.groups.get(name)?.parents ?? []) this.ancestors(p, into);
    return into;
  }

  /** The group and all its descendants. */
  descendants(name: string, into = new Set<string>()): Set<string> {
    if (into.has(name)) return into;
    into.add(name);
    for (const c of this.groups.get(name)?.children ?? []) this.descendants(c, into);
    return into;
  }

  /**
   * Ansible's Group.get_hosts(): the group itself, then its children in declaration order, then theirs level by level
   * (get_descendants with preserve_ordering), each contributing its own hosts in the order declared there.
   */
  groupHosts(name: string): string[] {
    const ordered = [name];
    const seen = new Set(ordered);
    let level = [name];
    while (level.length) {
      const next: string[] = [];
      for (const g of level) {
        for (const kid of this.groups.get(g)?.children ?? []) {
          if (seen.has(kid)) continue;
          seen.add(kid);
          ordered.push(kid);
          next.push(kid);
        }
      }
      level = next;
    }
    const hosts: string[] = [];
    const have = new Set<string>();
    for (const g of ordered) for (const h of this.groups.get(g)!.hosts) if (!have.has(h)) (have.add(h), hosts.push(h));
    return hosts;
  }

  /** Ansible's sort_groups: by depth, then ansible_group_priority, then name. */
  sortGroups(names: Iterable<string>): string[] {
    const memo = new Map<string, number>();
    const key = (n: string) => [this.depth(n, memo), this.groups.get(n)?.priority ?? 1] as const;
    return [...names].sort((a, b) => {
      const [da, pa] = key(a);
      const [db, pb] = key(b);
      return da - db || pa - pb || (a < b ? -1 : a > b ? 1 : 0);
    });
  }
}

function fmt(loc: SourceLocation | undefined): string {
  if (!loc) return 'implicit';
  return loc.line ? `${loc.file}:${loc.line}:${loc.column}` : loc.file;
}
