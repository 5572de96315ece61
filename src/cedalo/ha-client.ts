/**
 * Typed wrappers of Cedalo's HA control API (`$CONTROL/cedalo/ha/v1`, JSON `{"commands":[…]}`),
 * one HaClient per node (each node's admin listener, port 1885).
 */
import { z } from 'zod';
import { StepError } from '../errors.js';
import type { ControlClient, ControlResponse } from '../mqtt/control-client.js';
import type { ClusterInfo, ClusterNode, ClusterNodeSpec, SyncMode } from './types.js';

export const HA_API = 'cedalo/ha';

/** A node answered a command with an error. */
export class HaCommandError extends StepError {
  constructor(
    readonly host: string,
    readonly command: string,
    readonly brokerError: string,
  ) {
    super(`[${host}] cedalo/ha ${command} failed: ${brokerError}`);
  }
}

const nodeSchema = z.object({ address: z.string(), port: z.number().int(), nodeid: z.number().int() }).passthrough();
export const clusterInfoSchema = z
  .object({
    address: z.string(),
    port: z.number().int(),
    nodeid: z.number().int(),
    leader: z.boolean().default(false),
    uuid: z.string().optional(),
    log_index: z.number().optional(),
    ha: z
      .object({
        clustername: z.string().optional(),
        uuid: z.string().optional(),
        version: z.number().optional(),
        syncmode: z.string().optional(),
        nodes: z.array(nodeSchema).default([]),
      })
      .passthrough(),
  })
  .passthrough();

/** Errors meaning "this node is in no cluster" (getCluster on a fresh node). */
const NOT_IN_CLUSTER = /not (part of|in|a member of) (a|any) cluster|no cluster/i;

const node = (n: ClusterNode): ClusterNode => ({ address: n.address, port: n.port, nodeid: n.nodeid });

export class HaClient {
  constructor(
    readonly control: ControlClient,
    /** Inventory host name, used in messages. */
    readonly host: string,
  ) {}

  /** Sends one command; resolves with the response (errors included). */
  async send(command: string, args: Record<string, unknown> = {}, timeoutMs?: number): Promise<ControlResponse> {
    const [r] = await this.control.request(HA_API, [{ command, ...args }], { timeoutMs });
    return r;
  }

  /** Sends one command and returns its `data`; throws HaCommandError on an error answer. */
  async call(command: string, args: Record<string, unknown> = {}, timeoutMs?: number): Promise<unknown> {
    const r = await this.send(command, args, timeoutMs);
    if (r.error !== undefined) throw new HaCommandError(this.host, command, String(r.error));
    return r.data;
  }

  /** The node's view of its cluster, or undefined when it is in none. */
  async getCluster(timeoutMs?: number): Promise<ClusterInfo | undefined> {
    const r = await this.send('getCluster', {}, timeoutMs);
    if (r.error !== undefined) {
      if (NOT_IN_CLUSTER.test(String(r.error))) return undefined;
      throw new HaCommandError(this.host, 'getCluster', String(r.error));
    }
    const parsed = clusterInfoSchema.safeParse(r.data);
    if (!parsed.success) throw new StepError(`[${this.host}] unexpected getCluster reply: ${parsed.error.issues[0]?.message}`);
    const d = parsed.data;
    return {
      address: d.address,
      port: d.port,
      nodeid: d.nodeid,
      leader: d.leader,
      ...(d.uuid !== undefined ? { uuid: d.uuid } : {}),
      ...(d.log_index !== undefined ? { log_index: d.log_index } : {}),
      ha: {
        ...(d.ha.clustername !== undefined ? { clustername: d.ha.clustername } : {}),
        ...(d.ha.uuid !== undefined ? { uuid: d.ha.uuid } : {}),
        ...(d.ha.version !== undefined ? { version: d.ha.version } : {}),
        ...(d.ha.syncmode !== undefined ? { syncmode: d.ha.syncmode } : {}),
        nodes: d.ha.nodes.map(node),
      },
    };
  }

  getNode(nodeid?: number): Promise<unknown> {
    return this.call('getNode', nodeid === undefined ? {} : { nodeid });
  }

  getRaftStatus(): Promise<unknown> {
    return this.call('getRaftStatus');
  }

  async isLeader(): Promise<boolean> {
    const d = (await this.call('isLeader')) as unknown;
    if (typeof d === 'boolean') return d;
    const o = (d ?? {}) as Record<string, unknown>;
    return o.leader === true || o.isLeader === true;
  }

  async createCluster(o: { clustername: string; nodes: ClusterNodeSpec[]; syncmode?: SyncMode }): Promise<void> {
    await this.call('createCluster', {
      clustername: o.clustername,
      ...(o.syncmode ? { syncmode: o.syncmode } : {}),
      nodes: o.nodes.map((n) => ({ ...node(n), ...(n.mynode ? { mynode: true } : {}) })),
    });
  }

  async joinCluster(o: { clustername?: string; nodes: ClusterNodeSpec[] }): Promise<void> {
    await this.call('joinCluster', {
      ...(o.clustername ? { clustername: o.clustername } : {}),
      nodes: o.nodes.map((n) => ({ ...node(n), ...(n.mynode ? { mynode: true } : {}) })),
    });
  }

  async addNode(n: ClusterNode): Promise<void> {
    await this.call('addNode', { ...node(n) });
  }

  async removeNode(n: ClusterNode): Promise<void> {
    await this.call('removeNode', { ...node(n) });
  }

  async leaveCluster(): Promise<void> {
    await this.call('leaveCluster');
  }

  async deleteCluster(): Promise<void> {
    await this.call('deleteCluster');
  }

  async setLeader(nodeid: number): Promise<void> {
    await this.call('setLeader', { nodeid });
  }

  close(): Promise<void> {
    return this.control.close();
  }
}
