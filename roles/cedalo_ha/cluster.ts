/**
 * The cluster phase of cedalo_ha: ONE run-once step that reads the Cedalo HA cluster through every
 * broker's admin listener (SSH forward to 127.0.0.1:<admin port> of each broker), plans the membership
 * changes against the inventory and applies them (createCluster/joinCluster, addNode/joinCluster,
 * removeNode/leaveCluster). Check mode shows the plan and changes nothing.
 */
import { isAbsent } from '../../src/engine/absent.js';
import { PeersFailedError, signal, WaitTimeoutError } from '../../src/engine/coordination.js';
import { z } from 'zod';
import {
  HaClient,
  assignNodeIds,
  planMembership,
  readClusterView,
  reconcileCluster,
  type ClusterView,
  type DesiredClusterNode,
  type MembershipStep,
} from '../../src/cedalo/index.js';
import type { Change, HostContext, Step } from '../../src/engine/types.js';
import { StepError } from '../../src/errors.js';
import { waitUntil } from '../../src/health/broker-health.js';
import { ControlClient } from '../../src/mqtt/control-client.js';
import { redact, type Secret } from '../../src/secrets.js';
import { systemCredentials } from '../../src/cluster/credentials.js';
import { syncModeFor } from '../../src/cluster/cedalo.js';
import { brokerVars, cedaloVars } from '../../src/cluster/variables.js';
import { ACL_SETTLED, type AclEntry } from './acl.js';

/** What the cluster step needs to know of one broker of the inventory. */
export interface HaNode {
  host: string;
  /** Cluster address: the broker's primary address (facts), else its ansible_host. */
  address: string | undefined;
  port: number;
  adminPort: number;
  nodeid?: number;
  state: 'present' | 'absent';
  controlPrefix: string;
  login: { username: string; password: Secret };
}

const otherHostSchema = z.object({
  ...brokerVars,
  cedalo_ha_port: cedaloVars.cedalo_ha_port,
  cedalo_admin_port: cedaloVars.cedalo_admin_port,
  cedalo_node_id: cedaloVars.cedalo_node_id,
  cedalo_control_prefix: cedaloVars.cedalo_control_prefix,
  state: cedaloVars.state,
});

/** Brokers of the inventory (group `brokers`, inventory order), with their own variables. */
export function haNodes(ctx: HostContext): HaNode[] {
  const brokers = ctx.play.inventory.groups.get('brokers')?.hosts ?? [];
  if (brokers.length === 0) throw new StepError('cluster_backend is cedalo but the inventory has no `brokers` group');
  return brokers.map((host) => {
    const raw = ctx.play.inventory.hosts.get(host)?.vars ?? {};
    const picked = Object.fromEntries(Object.keys(otherHostSchema.shape).filter((k) => Object.prototype.hasOwnProperty.call(raw, k)).map((k) => [k, raw[k]]));
    const parsed = otherHostSchema.safeParse(picked);
    if (!parsed.success) throw new StepError(`[${host}] invalid variable ${parsed.error.issues[0]?.path.join('.')}: ${parsed.error.issues[0]?.message}`);
    const v = parsed.data;
    const fromFacts = ctx.play.facts(host)?.primaryAddress;
    const ansibleHost = raw.ansible_host;
    return {
      host,
      address: fromFacts || (typeof ansibleHost === 'string' ? ansibleHost : undefined),
      port: v.cedalo_ha_port,
      adminPort: v.cedalo_admin_port,
      ...(v.cedalo_node_id !== undefined ? { nodeid: v.cedalo_node_id } : {}),
      state: v.state,
      controlPrefix: v.cedalo_control_prefix,
      login: systemCredentials(ctx, v).admin,
    };
  });
}

/** Desired nodes with stable ids (explicit, else known to the cluster by address, else derived). */
export function desiredNodes(nodes: HaNode[], current?: ClusterView): DesiredClusterNode[] {
  const missing = nodes.filter((n) => !n.address);
  if (missing.length) throw new StepError(`no cluster address for ${missing.map((n) => n.host).join(', ')} (not connected in this run and no ansible_host)`);
  const ids = assignNodeIds(
    nodes.map((n) => ({ host: n.host, address: n.address!, port: n.port, ...(n.nodeid !== undefined ? { nodeid: n.nodeid } : {}) })),
    current,
  );
  return nodes.map((n) => ({ host: n.host, address: n.address!, port: n.port, nodeid: ids.get(n.host)!, state: n.state }));
}

export interface OpenedClients {
  clients: Map<string, HaClient>;
  /** host → why its admin listener could not be reached. */
  failures: Map<string, string>;
  close(): Promise<void>;
}

/** One HA control connection per broker, each through that broker's own SSH connection. */
export async function openHaClients(ctx: HostContext, nodes: HaNode[], o: { timeoutMs?: number } = {}): Promise<OpenedClients> {
  const clients = new Map<string, HaClient>();
  const failures = new Map<string, string>();
  await Promise.all(
    nodes.map(async (n) => {
      const t = ctx.play.transport(n.host);
      if (!t) {
        failures.set(n.host, ctx.play.isFailed(n.host) ? 'the host failed earlier in this run' : 'not connected in this run (excluded by --limit?)');
        return;
      }
      try {
        const control = await ControlClient.connect({
          stream: () => t.forward('127.0.0.1', n.adminPort),
          username: n.login.username,
          password: n.login.password,
          controlPrefix: n.controlPrefix,
          label: `${n.host} admin listener 127.0.0.1:${n.adminPort}`,
          timeoutMs: o.timeoutMs ?? 10_000,
        });
        clients.set(n.host, new HaClient(control, n.host));
      } catch (e) {
        failures.set(n.host, redact((e as Error).message));
      }
    }),
  );
  return {
    clients,
    failures,
    close: async () => {
      await Promise.all([...clients.values()].map((c) => c.close().catch(() => undefined)));
    },
  };
}

/** Present nodes must be reachable; absent ones may be gone already. */
function requireReachable(nodes: HaNode[], failures: Map<string, string>): void {
  const bad = nodes.filter((n) => n.state === 'present' && failures.has(n.host));
  if (bad.length)
    throw new StepError(
      `the Cedalo HA admin listener of ${bad.length === 1 ? 'a broker' : 'some brokers'} cannot be reached:\n` +
        bad.map((n) => `  - ${n.host}: ${failures.get(n.host)}`).join('\n'),
    );
}

/** Reads the cluster, assigns ids against it, reads again when ids moved (the view's `joined` depends on them). */
export async function currentState(clients: Map<string, HaClient>, nodes: HaNode[], progress: (l: string) => void): Promise<{ view: ClusterView | undefined; desired: DesiredClusterNode[] }> {
  const first = desiredNodes(nodes);
  let view = await readClusterView(clients, first, { onProgress: progress });
  const desired = desiredNodes(nodes, view);
  if (desired.some((d, i) => d.nodeid !== first[i]!.nodeid)) view = await readClusterView(clients, desired, { onProgress: progress });
  return { view, desired };
}

const isWait = (s: MembershipStep) => s.action.startsWith('wait');

export function describeView(view: ClusterView | undefined, desired: DesiredClusterNode[]): string {
  if (!view) return 'no cluster';
  const name = (id: number) => desired.find((d) => d.nodeid === id)?.host ?? `node ${id}`;
  const leader = view.leader ? `leader ${name(view.leader.nodeid)}` : 'NO leader';
  return `cluster "${view.clustername ?? ''}" (${view.syncmode ?? '?'}): ${view.members.length} nodes ${view.members.map((m) => `${name(m.nodeid)}=${m.nodeid}`).join(', ')}; ${leader}`;
}

export function planChange(steps: MembershipStep[], view: ClusterView | undefined, desired: DesiredClusterNode[], apply: Change['apply']): Change {
  const actions = steps.filter((s) => !isWait(s));
  return {
    summary: `Cedalo HA: ${actions.map((s) => s.summary).join('; ')}`,
    diff: [`  current: ${describeView(view, desired)}`, ...steps.map((s) => `${isWait(s) ? '  ' : '~ '}${s.action} @${s.host}: ${s.summary}`)].join('\n'),
    ...(apply ? { apply } : {}),
  };
}

interface ClusterStepVars {
  cluster_backend: 'open-source' | 'cedalo';
  cluster_name: string;
  cluster_mode: 'active-active' | 'active-passive';
  mqtt_auth_backend: 'dynsec' | 'password_file';
}

export const MEMBERSHIP_STEP = 'Cedalo HA cluster membership';

/** After an ACL grant the plugin dropped every admin session (a simulator's too): wait until each present node answers again. */
async function waitForApi(clients: Map<string, HaClient>, nodes: HaNode[], timeoutMs = 30_000): Promise<void> {
  await Promise.all(
    nodes
      .filter((n) => n.state === 'present' && clients.has(n.host))
      .map((n) => waitUntil(async () => void (await clients.get(n.host)!.send('getCluster', {}, 3000)), timeoutMs, 500)),
  );
}


/** Waits until every present broker of the play has passed its ACL step (or failed). */
async function aclsSettled(ctx: HostContext, nodes: HaNode[], timeoutMs = 10 * 60_000): Promise<Map<string, AclEntry>> {
  const expected = nodes.filter((n) => n.state === 'present' && ctx.batch.includes(n.host) && ctx.play.transport(n.host)).map((n) => n.host);
  try {
    return await ctx.waitForOthers(() => ctx.play.coordination.all(ACL_SETTLED, ctx.play.name, expected, { timeoutMs }));
  } catch (e) {
    if (e instanceof PeersFailedError) throw new StepError(`cannot change the Cedalo HA membership: ${e.hosts.join(', ')} failed earlier in this run`);
    if (e instanceof WaitTimeoutError) throw new StepError(e.message);
    throw e;
  }
}

/** The outcome of the run-once membership step, posted by the host that ran it, for the `state: absent` brokers. */
interface Outcome {
  ok: boolean;
  message?: string;
}
const MEMBERSHIP_SETTLED = signal<Outcome>('the Cedalo HA membership step');

/**
 * The run-once membership step: waits for every broker's ACL step, reads the cluster through all admin
 * listeners, plans with planMembership and applies with reconcileCluster.
 */
export function membershipStep(ctx: HostContext & { vars: ClusterStepVars }, o: { waitTimeoutMs?: number } = {}): Step {
  return {
    name: MEMBERSHIP_STEP,
    runOnce: true,
    plan: async (c) => {
      if (ctx.vars.cluster_backend !== 'cedalo') return { skip: 'cluster_backend is not cedalo' };
      const settle = (outcome: Outcome) => c.play.coordination.post(MEMBERSHIP_SETTLED, c.play.name, c.name, outcome);
      const fail = (e: unknown) => {
        settle({ ok: false, message: redact((e as Error).message) });
        return e;
      };
      try {
        if (ctx.vars.mqtt_auth_backend !== 'dynsec') throw new StepError('cluster_backend: cedalo needs mqtt_auth_backend: dynsec (the admin must be granted the HA control API topics)');
        const nodes = haNodes(c);
        const opts = { clustername: ctx.vars.cluster_name, syncmode: syncModeFor(ctx.vars.cluster_mode) };
        const acls = await aclsSettled(c, nodes);
        const granted = [...acls.values()].some((a) => a.granted);
        const pending = nodes.filter((n) => acls.get(n.host)?.wouldGrant || acls.get(n.host)?.unreachable);

        let steps: MembershipStep[] | undefined;
        let view: ClusterView | undefined;
        let desired: DesiredClusterNode[];
        let note = '';
        if (c.check && pending.length) {
          // Check mode before the grant (or before the brokers run): the HA API cannot be asked yet.
          desired = desiredNodes(nodes);
          note = ` (the HA API is not usable yet on ${pending.map((n) => n.host).join(', ')}: planned as a new cluster)`;
          try {
            steps = planMembership(undefined, desired, opts);
          } catch {
            steps = undefined;
          }
        } else {
          const opened = await openHaClients(c, nodes);
          try {
            requireReachable(nodes, opened.failures);
            if (granted) await waitForApi(opened.clients, nodes);
            ({ view, desired } = await currentState(opened.clients, nodes, (l) => c.progress(l)));
          } finally {
            await opened.close();
          }
          steps = planMembership(view, desired, opts);
        }

        const notes: string[] = [];
        if (view?.syncmode && view.syncmode !== opts.syncmode)
          notes.push(`the cluster runs syncmode "${view.syncmode}" but cluster_mode ${ctx.vars.cluster_mode} wants "${opts.syncmode}" (the sync mode is fixed at creation: recreate the cluster to change it)`);
        if (view?.clustername !== undefined && view.clustername !== ctx.vars.cluster_name)
          notes.push(`the cluster is named "${view.clustername}", cluster_name says "${ctx.vars.cluster_name}" (kept)`);
        if (steps?.length === 0) {
          settle({ ok: true });
          return { changes: [], message: [describeView(view, desired), ...notes].join('; ') };
        }

        const apply = async (hc: HostContext) => {
          try {
            const again = await openHaClients(hc, nodes);
            try {
              requireReachable(nodes, again.failures);
              const r = await reconcileCluster(again.clients, desired, { ...opts, check: false, onProgress: (l) => hc.progress(l), ...(o.waitTimeoutMs ? { waitTimeoutMs: o.waitTimeoutMs } : {}) });
              settle({ ok: true });
              const done = r.changed ? r.steps.filter((s) => !isWait(s)).map((s) => `${s.action}@${s.host}`).join(', ') : 'no membership change left';
              return [`${done} → ${describeView(r.view, desired)}`, ...notes].join('; ');
            } finally {
              await again.close();
            }
          } catch (e) {
            throw fail(e);
          }
        };
        const change = steps ? planChange(steps, view, desired, apply) : { summary: 'Cedalo HA: reconcile the membership once the HA API is usable', apply };
        change.summary += note;
        if (c.check) settle({ ok: true });
        return { changes: [change], ...(notes.length ? { message: notes.join('; ') } : {}) };
      } catch (e) {
        throw fail(e);
      }
    },
  };
}

/**
 * On a `state: absent` broker (its cluster phase runs before it is decommissioned): waits for the
 * membership step and fails when it failed — a refused or failed removal keeps the broker in service.
 */
export function absentGuardStep(timeoutMs = 15 * 60_000): Step {
  return {
    name: 'out of the Cedalo HA cluster before it is decommissioned',
    plan: async (c) => {
      const brokers = c.play.inventory.groups.get('brokers')?.hosts ?? [];
      const present = c.batch.filter((h) => brokers.includes(h) && !isAbsent(c.play.inventory.hosts.get(h) ?? { vars: {} }));
      let settled: { host: string; value: Outcome };
      try {
        settled = await c.waitForOthers(() => c.play.coordination.first(MEMBERSHIP_SETTLED, c.play.name, present, { timeoutMs }));
      } catch (e) {
        if (e instanceof PeersFailedError) throw new StepError('kept in service: no present broker could run the Cedalo HA membership step');
        if (e instanceof WaitTimeoutError) throw new StepError('kept in service: timed out waiting for the Cedalo HA membership step');
        throw e;
      }
      if (!settled.value.ok) throw new StepError(`kept in service: the Cedalo HA membership step failed on ${settled.host}: ${settled.value.message ?? ''}`);
      return { changes: [] };
    },
  };
}
