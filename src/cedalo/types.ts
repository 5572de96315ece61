/** A cluster node as the Cedalo HA API names it. `port` is the cluster (Raft) port, typically 7000. */
export interface ClusterNode {
  address: string;
  port: number;
  nodeid: number;
}

/** A node entry of createCluster/joinCluster: `mynode: true` marks the node receiving the command. */
export interface ClusterNodeSpec extends ClusterNode {
  mynode?: boolean;
}

export type SyncMode = 'full' | 'dynsec';

/**
 * `getCluster` data as a node reports it:
 * `{"port":7000,"nodeid":1,"address":"10.0.0.1","leader":true,"uuid":"…","log_index":96,
 *   "ha":{"clustername":"…","uuid":"…","version":1,"syncmode":"full","nodes":[{address,port,nodeid}…]}}`
 */
export interface ClusterInfo {
  address: string;
  port: number;
  nodeid: number;
  leader: boolean;
  uuid?: string;
  log_index?: number;
  ha: {
    clustername?: string;
    uuid?: string;
    version?: number;
    syncmode?: string;
    nodes: ClusterNode[];
  };
}

/** The cluster as seen across the inventory's nodes (input of `planMembership`). */
export interface ClusterView {
  clustername?: string;
  uuid?: string;
  syncmode?: string;
  /** The cluster's configured members (from the leader's view when known). */
  members: ClusterNode[];
  leader?: ClusterNode;
  /**
   * Node ids whose own node reports being part of this cluster. Undefined = unknown (every member
   * is taken as joined). A member missing here still needs `joinCluster`; a node listed here but not
   * a member was removed and still needs `leaveCluster`.
   */
  joined?: number[];
}

/** One inventory host's wish. `host` is the inventory name (key of the HaClient map). */
export interface DesiredClusterNode extends ClusterNode {
  state: 'present' | 'absent';
  host: string;
}

export type MembershipStep =
  | { action: 'createCluster'; host: string; clustername: string; syncmode?: SyncMode; nodes: ClusterNodeSpec[]; summary: string }
  | { action: 'joinCluster'; host: string; clustername: string; nodes: ClusterNodeSpec[]; summary: string }
  /** Sent to the leader (`host` is the leader planned; the executor re-checks who leads). */
  | { action: 'addNode'; host: string; node: ClusterNode; summary: string }
  | { action: 'removeNode'; host: string; node: ClusterNode; summary: string }
  | { action: 'leaveCluster'; host: string; node: ClusterNode; summary: string }
  | { action: 'setLeader'; host: string; node: ClusterNode; summary: string }
  /** Poll getCluster until `host` reports membership and the leader lists the node. */
  | { action: 'waitForMember'; host: string; node: ClusterNode; summary: string }
  /** Poll getCluster until the leader no longer lists the node. */
  | { action: 'waitForRemoval'; host: string; node: ClusterNode; summary: string }
  /** Poll until `node` leads. */
  | { action: 'waitForLeader'; host: string; node: ClusterNode; summary: string };
