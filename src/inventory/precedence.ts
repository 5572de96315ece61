import type { HostDef, InventoryBuilder, VarEntry } from './model.js';

/** group_vars/ and host_vars/ found beside one inventory source. */
export interface VarsDir {
  groupVars: Map<string, Map<string, VarEntry>>;
  hostVars: Map<string, Map<string, VarEntry>>;
}

/**
 * The winning assignment of every variable of a host, in Ansible's order (lowest first):
 *  1. inventory-file vars of `all`
 *  2. inventory-file vars of the host's other groups, parents before children (depth), then ansible_group_priority, then name
 *  3. group_vars/all (each inventory source in order)
 *  4. group_vars/<group> (each source; groups in the order of 2)
 *  5. inventory-file host vars
 *  6. host_vars/<host> (each source)
 *  7. extra vars
 * Later layers replace whole values (Ansible's default hash_behaviour=replace).
 */
export function winningVars(b: InventoryBuilder, host: HostDef, dirs: VarsDir[], extra: Map<string, VarEntry>): Map<string, VarEntry> {
  const out = new Map<string, VarEntry>();
  const layer = (vars: Map<string, VarEntry> | undefined) => {
    if (vars) for (const [k, v] of vars) out.set(k, v);
  };
  const groups = hostGroupsInOrder(b, host).filter((g) => g !== 'all');
  layer(b.groups.get('all')!.vars);
  for (const g of groups) layer(b.groups.get(g)!.vars);
  for (const d of dirs) layer(d.groupVars.get('all'));
  for (const d of dirs) for (const g of groups) layer(d.groupVars.get(g));
  layer(host.vars);
  for (const d of dirs) layer(d.hostVars.get(host.name));
  layer(extra);
  return out;
}

/** `all` first, then every group the host is in (ancestors included), sorted as Ansible merges them. */
export function hostGroupsInOrder(b: InventoryBuilder, host: HostDef): string[] {
  const all = new Set<string>();
  for (const g of host.groups) b.ancestors(g, all);
  all.delete('all');
  return ['all', ...b.sortGroups(all)];
}
