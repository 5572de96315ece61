/**
 * planMembership: PURE plan of the Cedalo HA membership changes.
 *
 * - No cluster: createCluster on the first present node (all present nodes, `mynode` on it), then
 *   joinCluster on each other node (same list, `mynode` on its own entry), then wait for each.
 * - Existing cluster, per new node in inventory order: addNode on the leader → joinCluster on the new
 *   node (current members + it) → wait until getCluster shows it.
 * - Per absent member: removeNode on the leader → leaveCluster on that node → wait until gone.
 *   An absent leader first hands leadership over (setLeader) to the first remaining member.
 * - Refused (StepError) when creating with fewer than 3 nodes or when the result would have fewer
 *   than 3 nodes; node ids must be stable (a node keeps the id the cluster knows it by).
 */
import { createHash } from 'node:crypto';
import { StepError } from '../errors.js';
import type { ClusterNode, ClusterNodeSpec, ClusterView, DesiredClusterNode, MembershipStep, SyncMode } from './types.js';

export const MIN_CLUSTER_NODES = 3;
export const MAX_NODE_ID = 1023;
export const DEFAULT_CLUSTER_PORT = 7000;

const ep = (n: ClusterNode) => `${n.address}:${n.port}`;
const show = (n: ClusterNode) => `node ${n.nodeid} (${ep(n)})`;
const bare = (n: ClusterNode): ClusterNode => ({ address: n.address, port: n.port, nodeid: n.nodeid });

export interface PlanMembershipOptions {
  /** Name given at createCluster (default "mosquitto"). */
  clustername?: string;
  syncmode?: SyncMode;
}

function validateDesired(desired: DesiredClusterNode[]): void {
  const problems: string[] = [];
  const ids = new Map<number, string>();
  const eps = new Map<string, string>();
  const hosts = new Set<string>();
  for (const d of desired) {
    if (!Number.isInteger(d.nodeid) || d.nodeid < 1 || d.nodeid > MAX_NODE_ID) problems.push(`${d.host}: node id ${d.nodeid} is not an integer between 1 and ${MAX_NODE_ID}`);
    if (!Number.isInteger(d.port) || d.port < 1 || d.port > 65535) problems.push(`${d.host}: cluster port ${d.port} is invalid`);
    if (!d.address) problems.push(`${d.host}: no cluster address`);
    if (hosts.has(d.host)) problems.push(`${d.host} is listed twice`);
    hosts.add(d.host);
    const otherId = ids.get(d.nodeid);
    if (otherId) problems.push(`${d.host} and ${otherId} have the same node id ${d.nodeid}`);
    ids.set(d.nodeid, d.host);
    const otherEp = eps.get(ep(d));
    if (otherEp) problems.push(`${d.host} and ${otherEp} have the same cluster address ${ep(d)}`);
    eps.set(ep(d), d.host);
  }
  if (problems.length) throw new StepError(`invalid Cedalo HA nodes:\n  - ${problems.join('\n  - ')}`);
}

export function planMembership(current: ClusterView | undefined, desired: DesiredClusterNode[], opts: PlanMembershipOptions = {}): MembershipStep[] {
  validateDesired(desired);
  const present = desired.filter((d) => d.state === 'present');
  const steps: MembershipStep[] = [];

  if (!current) {
    if (present.length < MIN_CLUSTER_NODES)
      throw new StepError(
        `cannot create a Cedalo HA cluster with ${present.length} node${present.length === 1 ? '' : 's'}` +
          `${present.length ? ` (${present.map((p) => p.host).join(', ')})` : ''}: it needs at least ${MIN_CLUSTER_NODES}`,
      );
    const clustername = opts.clustername ?? 'mosquitto';
    const [first, ...others] = present;
    const spec = (me: DesiredClusterNode): ClusterNodeSpec[] => present.map((p) => (p === me ? { ...bare(p), mynode: true } : bare(p)));
    steps.push({
      action: 'createCluster',
      host: first.host,
      clustername,
      ...(opts.syncmode ? { syncmode: opts.syncmode } : {}),
      nodes: spec(first),
      summary: `create cluster "${clustername}" on ${first.host} with ${present.map((p) => `${p.host}=${p.nodeid}`).join(', ')}`,
    });
    for (const o of others)
      steps.push({ action: 'joinCluster', host: o.host, clustername, nodes: spec(o), summary: `join ${o.host} (${show(o)}) to the cluster` });
    for (const o of others) steps.push({ action: 'waitForMember', host: o.host, node: bare(o), summary: `wait until ${o.host} is a cluster member` });
    return steps;
  }

  const clustername = current.clustername ?? opts.clustername ?? 'mosquitto';
  const byId = new Map(current.members.map((m) => [m.nodeid, m]));
  const byEp = new Map(current.members.map((m) => [ep(m), m]));
  const joined = new Set(current.joined ?? current.members.map((m) => m.nodeid));
  const problems: string[] = [];
  for (const d of desired) {
    const m = byId.get(d.nodeid);
    if (m && ep(m) !== ep(d)) problems.push(`${d.host}: node id ${d.nodeid} is ${ep(m)} in the cluster but ${ep(d)} in the inventory (changing a node's address is not supported)`);
    const e = byEp.get(ep(d));
    if (e && e.nodeid !== d.nodeid) problems.push(`${d.host}: ${ep(d)} is node ${e.nodeid} in the cluster but ${d.nodeid} in the inventory (node ids must stay stable)`);
  }
  if (problems.length) throw new StepError(`the inventory does not match the running Cedalo HA cluster:\n  - ${problems.join('\n  - ')}`);

  const toAdd = present.filter((d) => !byId.has(d.nodeid));
  const toJoinOnly = present.filter((d) => byId.has(d.nodeid) && !joined.has(d.nodeid));
  const toRemove = desired.filter((d) => d.state === 'absent' && byId.has(d.nodeid));
  const toLeaveOnly = desired.filter((d) => !byId.has(d.nodeid) && joined.has(d.nodeid));
  const finalCount = current.members.length - toRemove.length + toAdd.length;
  if (toRemove.length && finalCount < MIN_CLUSTER_NODES)
    throw new StepError(
      `refusing to remove ${toRemove.map((d) => d.host).join(', ')} from the Cedalo HA cluster: ` +
        `it would keep ${finalCount} node${finalCount === 1 ? '' : 's'} and needs at least ${MIN_CLUSTER_NODES}`,
    );
  if (finalCount < MIN_CLUSTER_NODES)
    throw new StepError(`the Cedalo HA cluster has ${current.members.length} nodes and would have ${finalCount}: it needs at least ${MIN_CLUSTER_NODES}`);

  const hostOf = (n: ClusterNode) => desired.find((d) => d.nodeid === n.nodeid)?.host;
  const needsLeader = toAdd.length > 0 || toRemove.length > 0;
  let leader = current.leader;
  if (needsLeader) {
    if (!leader) throw new StepError('the Cedalo HA cluster has no leader at the moment (no quorum?): cannot change its membership');
    if (!hostOf(leader)) throw new StepError(`the Cedalo HA cluster leader ${show(leader)} is not in the inventory: cannot send addNode/removeNode to it`);
  }

  // Nodes removed by the leader earlier that never left: finish that first (a present one is re-added below).
  for (const d of toLeaveOnly) steps.push({ action: 'leaveCluster', host: d.host, node: bare(d), summary: `${d.host} leaves the cluster (already removed by the leader)` });

  // Nodes whose joinCluster failed earlier (member but not joined): join only.
  const members: ClusterNode[] = current.members.map(bare);
  for (const d of toJoinOnly) {
    steps.push({ action: 'joinCluster', host: d.host, clustername, nodes: members.map((m) => (m.nodeid === d.nodeid ? { ...m, mynode: true } : m)), summary: `join ${d.host} (${show(d)}) to the cluster` });
    steps.push({ action: 'waitForMember', host: d.host, node: bare(d), summary: `wait until ${d.host} is a cluster member` });
  }

  // Hand leadership over before the leader is removed.
  if (leader && toRemove.some((d) => d.nodeid === leader!.nodeid)) {
    const removing = new Set(toRemove.map((d) => d.nodeid));
    const heir = present.find((d) => byId.has(d.nodeid) && !removing.has(d.nodeid) && joined.has(d.nodeid));
    if (!heir) throw new StepError(`cannot remove the leader ${show(leader)}: no other inventory node of the cluster can take over`);
    steps.push({ action: 'setLeader', host: hostOf(leader)!, node: bare(heir), summary: `move cluster leadership from ${hostOf(leader)} to ${heir.host}` });
    steps.push({ action: 'waitForLeader', host: heir.host, node: bare(heir), summary: `wait until ${heir.host} leads the cluster` });
    leader = bare(heir);
  }

  // Grow first, then shrink: the cluster never dips below its size on the way.
  for (const d of toAdd) {
    members.push(bare(d));
    steps.push({ action: 'addNode', host: hostOf(leader!)!, node: bare(d), summary: `add ${d.host} (${show(d)}) to the cluster (on leader ${hostOf(leader!)})` });
    steps.push({ action: 'joinCluster', host: d.host, clustername, nodes: members.map((m) => (m.nodeid === d.nodeid ? { ...m, mynode: true } : { ...m })), summary: `join ${d.host} (${show(d)}) to the cluster` });
    steps.push({ action: 'waitForMember', host: d.host, node: bare(d), summary: `wait until ${d.host} is a cluster member` });
  }
  for (const d of toRemove) {
    steps.push({ action: 'removeNode', host: hostOf(leader!)!, node: bare(d), summary: `remove ${d.host} (${show(d)}) from the cluster (on leader ${hostOf(leader!)})` });
    steps.push({ action: 'leaveCluster', host: d.host, node: bare(d), summary: `${d.host} leaves the cluster` });
    steps.push({ action: 'waitForRemoval', host: hostOf(leader!)!, node: bare(d), summary: `wait until the cluster no longer lists ${d.host}` });
  }
  return steps;
}

/**
 * Stable node ids for the inventory's HA nodes: `cedalo_node_id` when given; else the id the running
 * cluster already knows the node's address:port by; else derived from the host name (hash mod 1023,
 * probing past ids in use) — deterministic, and kept afterwards because the cluster then knows it.
 */
export function assignNodeIds(
  nodes: { host: string; address: string; port?: number; nodeid?: number }[],
  current?: ClusterView,
): Map<string, number> {
  const out = new Map<string, number>();
  const used = new Set<number>();
  const problems: string[] = [];
  for (const n of nodes) {
    if (n.nodeid === undefined) continue;
    if (!Number.isInteger(n.nodeid) || n.nodeid < 1 || n.nodeid > MAX_NODE_ID) problems.push(`${n.host}: cedalo_node_id ${n.nodeid} must be an integer between 1 and ${MAX_NODE_ID}`);
    else if (used.has(n.nodeid)) problems.push(`${n.host}: cedalo_node_id ${n.nodeid} is used by another host`);
    used.add(n.nodeid);
    out.set(n.host, n.nodeid);
  }
  if (problems.length) throw new StepError(`invalid cedalo_node_id:\n  - ${problems.join('\n  - ')}`);
  for (const m of current?.members ?? []) used.add(m.nodeid);
  for (const n of nodes) {
    if (out.has(n.host)) continue;
    const m = current?.members.find((x) => x.address === n.address && x.port === (n.port ?? DEFAULT_CLUSTER_PORT));
    if (m) out.set(n.host, m.nodeid);
  }
  for (const n of [...nodes].sort((a, b) => (a.host < b.host ? -1 : a.host > b.host ? 1 : 0))) {
    if (out.has(n.host)) continue;
    let id = (createHash('sha256').update(n.host).digest().readUInt32BE(0) % MAX_NODE_ID) + 1;
    let tries = 0;
    while (used.has(id)) {
      id = (id % MAX_NODE_ID) + 1;
      if (++tries > MAX_NODE_ID) throw new StepError('no free Cedalo HA node id left');
    }
    used.add(id);
    out.set(n.host, id);
  }
  return out;
}
