import { StepError } from '../errors.js';
import { HaCommandError, type HaClient } from './ha-client.js';
import { planMembership, type PlanMembershipOptions } from './membership.js';
import type { ClusterInfo, ClusterNode, ClusterView, DesiredClusterNode, MembershipStep } from './types.js';

export interface ReconcileClusterOptions extends PlanMembershipOptions {
  /** Plan only (check mode). */
  check: boolean;
  onProgress?: (line: string) => void;
  /** Bound of each wait (member visible, leader elected, node gone). Default 60 s. */
  waitTimeoutMs?: number;
  /** Interval between getCluster polls. Default 500 ms. */
  pollMs?: number;
  /** Per-request timeout. Default: the ControlClient's. */
  requestTimeoutMs?: number;
}

export interface ReconcileClusterResult {
  changed: boolean;
  steps: MembershipStep[];
  /** The cluster after the changes (before them in check mode). */
  view: ClusterView | undefined;
}

const same = (a: ClusterNode, b: ClusterNode) => a.nodeid === b.nodeid;
const membersOf = (info: ClusterInfo): ClusterNode[] => {
  const self = { address: info.address, port: info.port, nodeid: info.nodeid };
  return info.ha.nodes.some((n) => same(n, self)) ? info.ha.nodes : [self, ...info.ha.nodes];
};
const clusterKey = (info: ClusterInfo) => info.ha.uuid ?? info.ha.clustername ?? '?';

function clientFor(clients: Map<string, HaClient>, host: string): HaClient {
  const c = clients.get(host);
  if (!c) throw new StepError(`[${host}] no HA control connection to this node`);
  return c;
}

/**
 * Asks every inventory node for its getCluster view and merges them. Present nodes must answer;
 * absent ones may be gone. Returns undefined when no node is in a cluster.
 */
export async function readClusterView(
  clients: Map<string, HaClient>,
  desired: DesiredClusterNode[],
  opts: { requestTimeoutMs?: number; onProgress?: (line: string) => void } = {},
): Promise<ClusterView | undefined> {
  const reports = await Promise.all(
    desired.map(async (d) => {
      const c = clients.get(d.host);
      if (!c) {
        if (d.state === 'present') throw new StepError(`[${d.host}] no HA control connection to this node`);
        return { d, info: undefined, known: false };
      }
      try {
        return { d, info: await c.getCluster(opts.requestTimeoutMs), known: true };
      } catch (e) {
        if (d.state === 'present' || e instanceof HaCommandError) throw e;
        opts.onProgress?.(`[${d.host}] cannot read its cluster state (${(e as Error).message}); continuing without it`);
        return { d, info: undefined, known: false };
      }
    }),
  );
  const inCluster = reports.filter((r): r is typeof r & { info: ClusterInfo } => r.info !== undefined);
  if (inCluster.length === 0) return undefined;
  const keys = new Set(inCluster.map((r) => clusterKey(r.info)));
  if (keys.size > 1)
    throw new StepError(
      `the inventory's nodes belong to different Cedalo HA clusters: ${inCluster.map((r) => `${r.d.host}=${r.info.ha.clustername ?? ''}/${clusterKey(r.info)}`).join(', ')}`,
    );
  const leaderReport = inCluster.find((r) => r.info.leader);
  let members: ClusterNode[];
  if (leaderReport) members = membersOf(leaderReport.info);
  else {
    const byId = new Map<number, ClusterNode>();
    for (const r of inCluster) for (const n of membersOf(r.info)) byId.set(n.nodeid, n);
    members = [...byId.values()];
  }
  members = members.map((m) => ({ address: m.address, port: m.port, nodeid: m.nodeid })).sort((a, b) => a.nodeid - b.nodeid);
  const notJoined = new Set(reports.filter((r) => r.known && !r.info).map((r) => r.d.nodeid));
  const joined = new Set(members.filter((m) => !notJoined.has(m.nodeid)).map((m) => m.nodeid));
  for (const r of inCluster) joined.add(r.info.nodeid);
  const ref = (leaderReport ?? inCluster[0]).info;
  return {
    ...(ref.ha.clustername !== undefined ? { clustername: ref.ha.clustername } : {}),
    ...(ref.ha.uuid !== undefined ? { uuid: ref.ha.uuid } : {}),
    ...(ref.ha.syncmode !== undefined ? { syncmode: ref.ha.syncmode } : {}),
    members,
    ...(leaderReport ? { leader: { address: leaderReport.info.address, port: leaderReport.info.port, nodeid: leaderReport.info.nodeid } } : {}),
    joined: [...joined].sort((a, b) => a - b),
  };
}

async function poll(what: string, timeoutMs: number, pollMs: number, probe: () => Promise<true | string>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    try {
      const r = await probe();
      if (r === true) return;
      last = r;
    } catch (e) {
      last = (e as Error).message;
    }
    if (Date.now() >= deadline) throw new StepError(`timed out after ${Math.round(timeoutMs / 1000)} s waiting ${what}${last ? ` (last: ${last})` : ''}`);
    await new Promise((r) => setTimeout(r, pollMs));
  }
}

/** Executes planMembership's steps, polling getCluster between them (bounded by `waitTimeoutMs`). */
export async function reconcileCluster(
  clients: Map<string, HaClient>,
  desired: DesiredClusterNode[],
  opts: ReconcileClusterOptions,
): Promise<ReconcileClusterResult> {
  const waitMs = opts.waitTimeoutMs ?? 60_000;
  const pollMs = opts.pollMs ?? 500;
  const rt = opts.requestTimeoutMs;
  const progress = (l: string) => opts.onProgress?.(l);
  const view = await readClusterView(clients, desired, { requestTimeoutMs: rt, onProgress: opts.onProgress });
  const steps = planMembership(view, desired, opts);
  if (opts.check || steps.length === 0) return { changed: steps.length > 0, steps, view };

  /** The host leading now: the planned one if it still leads, else whichever inventory node says so. */
  const leaderHost = async (planned: string): Promise<string> => {
    let found: string | undefined;
    await poll('for a cluster leader', waitMs, pollMs, async () => {
      const p = clients.get(planned);
      if (p && (await p.getCluster(rt))?.leader) {
        found = planned;
        return true;
      }
      for (const d of desired) {
        const c = clients.get(d.host);
        if (!c || d.host === planned) continue;
        const info = await c.getCluster(rt).catch(() => undefined);
        if (info?.leader) {
          found = d.host;
          return true;
        }
      }
      return 'no inventory node reports being the leader';
    });
    return found!;
  };
  const listedByLeader = async (node: ClusterNode): Promise<boolean | string> => {
    for (const d of desired) {
      const c = clients.get(d.host);
      const info = c ? await c.getCluster(rt).catch(() => undefined) : undefined;
      if (info?.leader) return membersOf(info).some((m) => same(m, node));
    }
    return 'no leader found';
  };

  for (const step of steps) {
    progress(step.summary);
    switch (step.action) {
      case 'createCluster':
        await clientFor(clients, step.host).createCluster({ clustername: step.clustername, nodes: step.nodes, syncmode: step.syncmode });
        break;
      case 'joinCluster':
        await clientFor(clients, step.host).joinCluster({ clustername: step.clustername, nodes: step.nodes });
        break;
      case 'addNode':
        await clientFor(clients, await leaderHost(step.host)).addNode(step.node);
        break;
      case 'removeNode':
        await clientFor(clients, await leaderHost(step.host)).removeNode(step.node);
        break;
      case 'setLeader':
        await clientFor(clients, await leaderHost(step.host)).setLeader(step.node.nodeid);
        break;
      case 'leaveCluster': {
        const c = clients.get(step.host);
        if (!c) {
          progress(`[${step.host}] not reachable: it could not be told to leave the cluster (it was removed by the leader)`);
          break;
        }
        try {
          await c.leaveCluster();
        } catch (e) {
          if (e instanceof HaCommandError) throw e;
          progress(`[${step.host}] could not be told to leave the cluster (${(e as Error).message}); it was removed by the leader`);
        }
        break;
      }
      case 'waitForMember': {
        const c = clientFor(clients, step.host);
        await poll(`until ${step.host} is a member of the cluster`, waitMs, pollMs, async () => {
          const own = await c.getCluster(rt);
          if (!own) return `${step.host} reports no cluster yet`;
          if (!membersOf(own).some((m) => same(m, step.node))) return `${step.host} does not list itself yet`;
          const byLeader = await listedByLeader(step.node);
          return byLeader === true ? true : byLeader === false ? 'the leader does not list it yet' : byLeader;
        });
        break;
      }
      case 'waitForRemoval':
        await poll(`until the cluster no longer lists node ${step.node.nodeid}`, waitMs, pollMs, async () => {
          const listed = await listedByLeader(step.node);
          return listed === false ? true : listed === true ? 'the leader still lists it' : listed;
        });
        break;
      case 'waitForLeader': {
        const c = clientFor(clients, step.host);
        await poll(`until ${step.host} leads the cluster`, waitMs, pollMs, async () => ((await c.getCluster(rt))?.leader ? true : `${step.host} does not lead yet`));
        break;
      }
    }
  }

  const after = await readClusterView(clients, desired, { requestTimeoutMs: rt, onProgress: opts.onProgress });
  const missing = desired.filter((d) => d.state === 'present' && !(after?.members.some((m) => m.nodeid === d.nodeid) && after.joined?.includes(d.nodeid)));
  const extra = desired.filter((d) => d.state === 'absent' && after?.members.some((m) => m.nodeid === d.nodeid));
  if (missing.length || extra.length)
    throw new StepError(
      'the Cedalo HA cluster did not reach the wanted membership:' +
        (missing.length ? ` missing ${missing.map((d) => d.host).join(', ')};` : '') +
        (extra.length ? ` still listing ${extra.map((d) => d.host).join(', ')};` : ''),
    );
  return { changed: true, steps, view: after };
}
