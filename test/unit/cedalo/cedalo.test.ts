import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  HaClient,
  HaCommandError,
  assignNodeIds,
  planMembership,
  readClusterView,
  reconcileCluster,
  type ClusterView,
  type DesiredClusterNode,
  type MembershipStep,
} from '../../../src/cedalo/index.js';
import { StepError } from '../../../src/errors.js';
import { ControlClient } from '../../../src/mqtt/control-client.js';
import { Secret } from '../../../src/secrets.js';
import { startLocalBroker, type LocalBroker } from '../../fixtures/cedalo-ha-simulator/local-broker.js';
import { startHaSimulator, type HaSimulator } from '../../fixtures/cedalo-ha-simulator/simulator.js';

const node = (i: number, state: 'present' | 'absent' = 'present'): DesiredClusterNode => ({
  host: `mq${i}`,
  address: `10.99.0.${i}`,
  port: 7000,
  nodeid: i,
  state,
});
const member = (i: number) => ({ address: `10.99.0.${i}`, port: 7000, nodeid: i });
const view = (ids: number[], leader = ids[0]): ClusterView => ({
  clustername: 'mosquitto',
  uuid: 'u-1',
  members: ids.map(member),
  leader: member(leader),
  joined: ids,
});
const brief = (steps: MembershipStep[]) =>
  steps.map((s) => `${s.action}@${s.host}${'node' in s ? `:${s.node.nodeid}` : ''}${'nodes' in s ? `[${s.nodes.map((n) => `${n.nodeid}${n.mynode ? '*' : ''}`).join(',')}]` : ''}`);

describe('planMembership (pure)', () => {
  it('creates the cluster on the first node and joins the others', () => {
    const steps = planMembership(undefined, [node(1), node(2), node(3)], { clustername: 'prod' });
    expect(brief(steps)).toEqual([
      'createCluster@mq1[1*,2,3]',
      'joinCluster@mq2[1,2*,3]',
      'joinCluster@mq3[1,2,3*]',
      'waitForMember@mq2:2',
      'waitForMember@mq3:3',
    ]);
    expect(steps[0]).toMatchObject({ clustername: 'prod', summary: 'create cluster "prod" on mq1 with mq1=1, mq2=2, mq3=3' });
    expect(planMembership(undefined, [node(1), node(2), node(3), node(4, 'absent')])).toHaveLength(5);
  });

  it('grows 3 → 4: addNode on the leader, joinCluster on the new node, then waits', () => {
    const steps = planMembership(view([1, 2, 3], 2), [node(1), node(2), node(3), node(4)]);
    expect(brief(steps)).toEqual(['addNode@mq2:4', 'joinCluster@mq4[1,2,3,4*]', 'waitForMember@mq4:4']);
  });

  it('shrinks 4 → 3: removeNode on the leader, then leaveCluster on that node', () => {
    const steps = planMembership(view([1, 2, 3, 4]), [node(1), node(2), node(3), node(4, 'absent')]);
    expect(brief(steps)).toEqual(['removeNode@mq1:4', 'leaveCluster@mq4:4', 'waitForRemoval@mq1:4']);
  });

  it('moves leadership away before removing the leader', () => {
    const steps = planMembership(view([1, 2, 3, 4]), [node(1, 'absent'), node(2), node(3), node(4)]);
    expect(brief(steps)).toEqual(['setLeader@mq1:2', 'waitForLeader@mq2:2', 'removeNode@mq2:1', 'leaveCluster@mq1:1', 'waitForRemoval@mq2:1']);
  });

  it('refuses 3 → 2 and creating with 2', () => {
    expect(() => planMembership(view([1, 2, 3]), [node(1), node(2), node(3, 'absent')])).toThrow(StepError);
    expect(() => planMembership(view([1, 2, 3]), [node(1), node(2), node(3, 'absent')])).toThrow(
      'refusing to remove mq3 from the Cedalo HA cluster: it would keep 2 nodes and needs at least 3',
    );
    expect(() => planMembership(undefined, [node(1), node(2)])).toThrow('cannot create a Cedalo HA cluster with 2 nodes (mq1, mq2): it needs at least 3');
  });

  it('is empty when the cluster matches; finishes half-done joins and leaves', () => {
    expect(planMembership(view([1, 2, 3]), [node(1), node(2), node(3), node(4, 'absent')])).toEqual([]);
    const half = { ...view([1, 2, 3, 4]), joined: [1, 2, 3] }; // addNode done, joinCluster not
    expect(brief(planMembership(half, [node(1), node(2), node(3), node(4)]))).toEqual(['joinCluster@mq4[1,2,3,4*]', 'waitForMember@mq4:4']);
    const left = { ...view([1, 2, 3]), joined: [1, 2, 3, 4] }; // removeNode done, leaveCluster not
    expect(brief(planMembership(left, [node(1), node(2), node(3), node(4, 'absent')]))).toEqual(['leaveCluster@mq4:4']);
    // …and wanted back: leave first, then the usual add + join
    expect(brief(planMembership(left, [node(1), node(2), node(3), node(4)]))).toEqual(['leaveCluster@mq4:4', 'addNode@mq1:4', 'joinCluster@mq4[1,2,3,4*]', 'waitForMember@mq4:4']);
  });

  it('refuses node ids or addresses that differ from the running cluster', () => {
    expect(() => planMembership(view([1, 2, 3]), [node(1), node(2), { ...node(3), nodeid: 9 }])).toThrow(/node ids must stay stable/);
    expect(() => planMembership(undefined, [node(1), node(2), { ...node(3), nodeid: 2 }])).toThrow(/same node id 2/);
    expect(() => planMembership(undefined, [node(1), node(2), { ...node(3), nodeid: 1024 }])).toThrow(/between 1 and 1023/);
  });

  it('assigns stable node ids: explicit, kept from the cluster, else derived deterministically', () => {
    const hosts = [
      { host: 'a', address: '10.0.0.1', nodeid: 7 },
      { host: 'b', address: '10.99.0.2' },
      { host: 'c', address: '10.0.0.3' },
    ];
    const ids = assignNodeIds(hosts, view([1, 2, 3]));
    expect(ids.get('a')).toBe(7);
    expect(ids.get('b')).toBe(2);
    const c = ids.get('c')!;
    expect(c).toBeGreaterThanOrEqual(1);
    expect(c).toBeLessThanOrEqual(1023);
    expect([1, 2, 3, 7]).not.toContain(c);
    expect(assignNodeIds(hosts, view([1, 2, 3])).get('c')).toBe(c);
    expect(() => assignNodeIds([{ host: 'x', address: 'a', nodeid: 1 }, { host: 'y', address: 'b', nodeid: 1 }])).toThrow(/used by another host/);
  });
});

/* ------------------------------------------------------------------------------------------ */

const ADMIN_PW = 'ha-admin-secret-1';
const PREFIX = 'provision-sim/CONTROL';

describe('Cedalo HA SIMULATOR on real Mosquitto brokers', () => {
  const brokers: LocalBroker[] = [];
  const clients = new Map<string, HaClient>();
  let sim: HaSimulator;
  let dir: string;
  let stateFile: string;
  const progress: string[] = [];
  const opts = { check: false, waitTimeoutMs: 10_000, pollMs: 100, requestTimeoutMs: 3000, onProgress: (l: string) => progress.push(l) };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'provision-ha-sim-'));
    stateFile = join(dir, 'ha-state.json');
    for (let i = 0; i < 4; i++)
      brokers.push(await startLocalBroker({ adminPassword: ADMIN_PW, extraAdminAcls: [{ acltype: 'publishClientSend', topic: 'provision-sim/#' }] }));
    sim = await startHaSimulator({
      nodes: brokers.map((b, i) => ({ host: `mq${i + 1}`, url: b.url, username: 'admin', password: ADMIN_PW })),
      stateFile,
      controlPrefix: PREFIX,
    });
    for (const [i, b] of brokers.entries()) {
      const control = await ControlClient.connect({ url: b.url, username: 'admin', password: new Secret(ADMIN_PW), controlPrefix: PREFIX, timeoutMs: 3000 });
      clients.set(`mq${i + 1}`, new HaClient(control, `mq${i + 1}`));
    }
  }, 60_000);

  afterAll(async () => {
    for (const c of clients.values()) await c.close();
    await sim?.stop();
    for (const b of brokers) await b.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('forms a 3-node cluster, and a second run changes nothing', async () => {
    const desired = [node(1), node(2), node(3)];
    const r = await reconcileCluster(clients, desired, { ...opts, clustername: 'test-cluster' });
    expect(r.changed).toBe(true);
    expect(brief(r.steps)).toEqual(['createCluster@mq1[1*,2,3]', 'joinCluster@mq2[1,2*,3]', 'joinCluster@mq3[1,2,3*]', 'waitForMember@mq2:2', 'waitForMember@mq3:3']);
    expect(r.view).toMatchObject({ clustername: 'test-cluster', members: [member(1), member(2), member(3)], leader: member(1), joined: [1, 2, 3] });
    const info = await clients.get('mq2')!.getCluster();
    expect(info).toMatchObject({ nodeid: 2, address: '10.99.0.2', port: 7000, leader: false, ha: { clustername: 'test-cluster', syncmode: 'full', version: 1 } });
    expect(await clients.get('mq1')!.isLeader()).toBe(true);
    expect(await clients.get('mq4')!.getCluster()).toBeUndefined();
    const again = await reconcileCluster(clients, [...desired, node(4, 'absent')], opts);
    expect(again).toMatchObject({ changed: false, steps: [] });
  });

  it('grows to 4 nodes', async () => {
    const check = await reconcileCluster(clients, [node(1), node(2), node(3), node(4)], { ...opts, check: true });
    expect(brief(check.steps)).toEqual(['addNode@mq1:4', 'joinCluster@mq4[1,2,3,4*]', 'waitForMember@mq4:4']);
    expect(await clients.get('mq4')!.getCluster()).toBeUndefined(); // check mode changed nothing
    const r = await reconcileCluster(clients, [node(1), node(2), node(3), node(4)], opts);
    expect(r.view?.members).toEqual([member(1), member(2), member(3), member(4)]);
    expect((await clients.get('mq4')!.getCluster())?.ha.nodes).toHaveLength(4);
    const persisted = JSON.parse(await readFile(stateFile, 'utf8'));
    expect(persisted.cluster.members.map((m: { nodeid: number }) => m.nodeid)).toEqual([1, 2, 3, 4]);
  });

  it('refuses addNode on a non-leader, naming the leader', async () => {
    const err = await clients.get('mq3')!.addNode(member(9)).catch((e) => e);
    expect(err).toBeInstanceOf(HaCommandError);
    expect(err.message).toBe(
      '[mq3] cedalo/ha addNode failed: addNode must be sent to the cluster leader: this node is not the leader, the current leader is node 1 (10.99.0.1:7000)',
    );
  });

  it('shrinks to 3 nodes (removeNode on the leader, leaveCluster on the node)', async () => {
    const r = await reconcileCluster(clients, [node(1), node(2, 'absent'), node(3), node(4)], opts);
    expect(brief(r.steps)).toEqual(['removeNode@mq1:2', 'leaveCluster@mq2:2', 'waitForRemoval@mq1:2']);
    expect(r.view?.members).toEqual([member(1), member(3), member(4)]);
    expect(await clients.get('mq2')!.getCluster()).toBeUndefined();
  });

  it('refuses to go down to 2 nodes and changes nothing', async () => {
    const err = await reconcileCluster(clients, [node(1), node(2, 'absent'), node(3), node(4, 'absent')], opts).catch((e) => e);
    expect(err).toBeInstanceOf(StepError);
    expect(err.message).toMatch(/refusing to remove mq4 .* it would keep 2 nodes and needs at least 3/);
    // the simulator enforces it too
    const direct = await clients.get('mq1')!.removeNode(member(4)).catch((e) => e);
    expect(direct.message).toMatch(/Cannot remove node 4 \(10\.99\.0\.4:7000\): a cluster requires at least 3 nodes/);
    expect((await readClusterView(clients, [node(1), node(3), node(4)]))?.members).toHaveLength(3);
  });

  it('enforces the documented rules', async () => {
    const mq2 = clients.get('mq2')!;
    const mq1 = clients.get('mq1')!;
    const nodes3 = [{ ...member(5), mynode: true }, member(6)];
    expect((await mq2.send('createCluster', { clustername: 'x', nodes: nodes3 })).error).toBe('A cluster requires at least 3 nodes, got 2');
    expect((await mq2.send('createCluster', { nodes: [member(5), member(6), member(7)] })).error).toBe('Exactly one node must have "mynode": true (found 0)');
    expect((await mq2.send('createCluster', { nodes: [{ ...member(5), mynode: true }, member(6), { ...member(7), nodeid: 0 }] })).error).toBe(
      'Invalid node: nodeid 0 is not between 1 and 1023',
    );
    expect((await mq2.send('createCluster', { nodes: [{ ...member(5), mynode: true }, member(6), { ...member(6), nodeid: 7 }] })).error).toBe(
      'Duplicate node address 10.99.0.6:7000',
    );
    expect((await mq1.send('createCluster', { nodes: [{ ...member(5), mynode: true }, member(6), member(7)] })).error).toBe('Node is already part of a cluster');
    expect((await mq2.send('joinCluster', { nodes: [{ ...member(2), mynode: true }] })).error).toMatch(/node 2 \(10\.99\.0\.2:7000\) is not a member of the cluster/);
    expect((await mq2.send('joinCluster', { nodes: [{ ...member(3), mynode: true }] })).error).toBe('Unable to join: nodeid 3 is already in use by another node');
    expect((await mq2.send('joinCluster', { nodes: [{ ...member(4), address: '10.99.0.44', mynode: true }] })).error).toMatch(/do not match the cluster configuration/);
    expect((await mq2.send('leaveCluster')).error).toBe('Node is not part of a cluster');
    expect((await clients.get('mq3')!.send('leaveCluster')).error).toBe('Node 3 is still a member of the cluster; send removeNode to the leader first');
    expect((await mq1.send('removeNode', { nodeid: 1 })).error).toMatch(/Cannot remove the leader node 1/);
    expect((await mq1.send('addNode', { ...member(3) })).error).toBe('Node with nodeid 3 already exists');
    expect((await mq1.send('bogus')).error).toBe('Unknown command');
    expect((await mq1.send('getCluster', { extra: 1 })).error).toBe('Invalid request: unexpected property "extra"');
    expect(await clients.get('mq3')!.getNode()).toMatchObject({ nodeid: 3, leader: false, state: 'follower' });
    expect(await mq1.getRaftStatus()).toMatchObject({ state: 'leader', leader: 1, nodes: [{ nodeid: 1 }, { nodeid: 3 }, { nodeid: 4 }] });
  });

  it('elects a new leader when the leader broker goes away, and follows setLeader', async () => {
    await brokers[0].kill();
    await expect.poll(() => sim.reachable('mq1'), { timeout: 5000 }).toBe(false);
    expect(await clients.get('mq3')!.getCluster()).toMatchObject({ leader: true });
    expect(await clients.get('mq3')!.getNode(1)).toMatchObject({ state: 'unreachable' });
    await brokers[0].start();
    await expect.poll(() => sim.reachable('mq1'), { timeout: 5000 }).toBe(true);
    expect(await clients.get('mq1')!.isLeader()).toBe(false); // the ControlClient reconnected by itself
    await clients.get('mq3')!.setLeader(1);
    expect(await clients.get('mq1')!.isLeader()).toBe(true);
    const again = await reconcileCluster(clients, [node(1), node(2, 'absent'), node(3), node(4)], opts);
    expect(again.changed).toBe(false);
  });

  it('removes the leader by handing leadership over first (and adds a node back)', async () => {
    const r = await reconcileCluster(clients, [node(1, 'absent'), node(2), node(3), node(4)], opts);
    expect(brief(r.steps)).toEqual([
      'setLeader@mq1:3',
      'waitForLeader@mq3:3',
      'addNode@mq3:2',
      'joinCluster@mq2[1,3,4,2*]',
      'waitForMember@mq2:2',
      'removeNode@mq3:1',
      'leaveCluster@mq1:1',
      'waitForRemoval@mq3:1',
    ]);
    expect(r.view).toMatchObject({ members: [member(2), member(3), member(4)], leader: member(3) });
    expect(progress).toContain('move cluster leadership from mq1 to mq3');
  });
});
