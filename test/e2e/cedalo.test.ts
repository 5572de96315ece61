/**
 * Cedalo HA backend (roles/cedalo_ha) on real sandbox hosts, with the Cedalo HA SIMULATOR.
 *
 * Cedalo's HA plugin is commercial and is not installed here: the brokers run stock Mosquitto in
 * SIMULATOR MODE (`cedalo_ha_plugin_path: null`) and THE SIMULATOR (test/fixtures/cedalo-ha-simulator,
 * an emulation of Cedalo's documented HA control API — not Cedalo's plugin) runs in this test process.
 * It logs in to each sandbox broker's admin listener (127.0.0.1:1885 on the broker) through an SSH
 * forward opened by this test, and answers on `provision-sim/CONTROL/cedalo/ha/v1` (stock Mosquitto
 * keeps `$CONTROL/…` from plain clients). provision reaches the same listeners through its own SSH
 * connections, exactly as it would reach the real plugin.
 *
 * The simulator needs a broker with the admin account to log in to, so each broker is first provisioned
 * up to the runtime phase, then the simulator attaches, then the full site playbook runs (the admin's
 * HA API grant, in the cluster phase, drops the simulator's sessions once: it reconnects).
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HaClient, type ClusterInfo } from '../../src/cedalo/index.js';
import type { RunReport } from '../../src/engine/records.js';
import { connectionSpecFor } from '../../src/inventory/connection.js';
import { loadInventory } from '../../src/inventory/load.js';
import { ControlClient } from '../../src/mqtt/control-client.js';
import { hostShell, sandboxDown, sandboxUp, type Sandbox } from '../../src/sandbox/index.js';
import { Secret } from '../../src/secrets.js';
import { SshTransport } from '../../src/transport/ssh.js';
import { startHaSimulator, type HaSimulator } from '../fixtures/cedalo-ha-simulator/simulator.js';
import { provision, type CliResult } from '../support/cli.js';
import { makeExporterGitRepo } from '../support/exporter-fixture.js';

const NAME = 'e2e-cedalo';
const PREFIX = 'provision-sim/CONTROL';
const ADMIN_PORT = 1885;
const ADMIN_USER = 'provision-admin';
const MEMBERSHIP = 'Cedalo HA cluster membership';

let sb: Sandbox;
let dir: string;
let exporter: { url: string; ref: string };
let sim: HaSimulator | undefined;
const sh = async (host: string, cmd: string) => (await hostShell(NAME, host, cmd)).stdout.trim();

/* ------------------------- SSH forwards for the SIMULATOR (test side only) ------------------------- */

interface Forward {
  host: string;
  port: number;
  close(): Promise<void>;
}
const forwards = new Map<string, Forward>();

/** 127.0.0.1:<local port> on this machine → 127.0.0.1:1885 on the sandbox broker, over SSH. */
async function forwardToAdminListener(host: string): Promise<Forward> {
  const existing = forwards.get(host);
  if (existing) return existing;
  const inv = await loadInventory([sb.inventoryPath]);
  const ssh = await SshTransport.connect(connectionSpecFor(inv.hosts.get(host)!, sb.inventoryPath));
  const sockets = new Set<net.Socket>();
  const server = net.createServer((local) => {
    sockets.add(local);
    local.on('close', () => sockets.delete(local));
    ssh.forward('127.0.0.1', ADMIN_PORT).then(
      (remote) => {
        local.pipe(remote).pipe(local);
        remote.on('error', () => local.destroy());
        local.on('error', () => remote.destroy());
        remote.on('close', () => local.destroy());
        local.on('close', () => remote.destroy());
      },
      () => local.destroy(),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const f: Forward = {
    host,
    port: (server.address() as net.AddressInfo).port,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
      await ssh.close();
      forwards.delete(host);
    },
  };
  forwards.set(host, f);
  return f;
}

const adminPassword = () => readFileSync(join(dir, 'secrets', 'mqtt_admin_password'), 'utf8').trim();

/** (Re)starts THE SIMULATOR on these brokers; its cluster model persists in a state file across restarts. */
async function startSimulator(hosts: string[]): Promise<void> {
  await sim?.stop();
  const password = adminPassword();
  const nodes = [];
  for (const host of hosts) nodes.push({ host, url: `mqtt://127.0.0.1:${(await forwardToAdminListener(host)).port}`, username: ADMIN_USER, password });
  sim = await startHaSimulator({ nodes, stateFile: join(dir, 'ha-simulator-state.json'), controlPrefix: PREFIX, log: (l) => simLog.push(l) });
}
const simLog: string[] = [];

/** getCluster asked through the HA API on one broker (the simulator answers). */
async function getCluster(host: string): Promise<ClusterInfo | undefined> {
  const f = await forwardToAdminListener(host);
  const control = await ControlClient.connect({ url: `mqtt://127.0.0.1:${f.port}`, username: ADMIN_USER, password: new Secret(adminPassword()), controlPrefix: PREFIX, timeoutMs: 5000 });
  const ha = new HaClient(control, host);
  try {
    return await ha.getCluster();
  } finally {
    await ha.close();
  }
}

/* ------------------------------------------- inventory ------------------------------------------- */

function writeInventory(brokers: string[], absent: string[] = []): string {
  const inv = join(dir, 'hosts.yaml');
  writeFileSync(
    inv,
    `# e2e: Cedalo HA backend in SIMULATOR MODE (stock Mosquitto; the HA API is answered by the test's simulator)
all:
  vars:
    cluster_backend: cedalo
    cluster_mode: active-passive
    cluster_name: e2e-cedalo
    cedalo_ha_plugin_path: null
    cedalo_control_prefix: ${PREFIX}
    exporter_repo_url: ${exporter.url}
    exporter_ref: ${exporter.ref}
  children:
    brokers:
      hosts:
${brokers.map((h) => `        ${h}: ${absent.includes(h) ? '{ state: absent }' : '{}'}`).join('\n')}
`,
  );
  return inv;
}

const run = (inv: string, extra: string[], json: string): Promise<CliResult> => provision(['-i', inv, '-i', sb.inventoryPath, ...extra], { json: join(dir, json) });
const membership = (r: RunReport) => r.steps.filter((s) => s.role === 'cedalo_ha' && s.step === MEMBERSHIP);
const ranMembership = (r: RunReport) => {
  const m = membership(r).filter((s) => s.status !== 'skipped');
  expect(m, JSON.stringify(membership(r))).toHaveLength(1);
  return m[0]!;
};
const out = (r: CliResult) => `${r.stdout}\n${r.stderr}\n--- simulator ---\n${simLog.slice(-30).join('\n')}`;

describe('Cedalo HA backend (SIMULATOR mode) on sandbox hosts', () => {
  beforeAll(async () => {
    sb = await sandboxUp({ name: NAME, count: 4, prefix: 'mq' });
    dir = join(sb.stateDir, 'cluster');
    mkdirSync(dir, { recursive: true });
    exporter = await makeExporterGitRepo(join(dir, 'exporter-src'));
    // The simulator's cluster model lives in this file only: a kept sandbox (KEEP_SANDBOX=1) starts over.
    rmSync(join(dir, 'ha-simulator-state.json'), { force: true });
  });
  afterAll(async () => {
    await sim?.stop();
    for (const f of [...forwards.values()]) await f.close();
    if (!process.env.KEEP_SANDBOX) await sandboxDown({ name: NAME });
  });

  it('forms a 3-node cluster with the full site playbook; a second run changes nothing in it', async () => {
    const inv = writeInventory(['mq1', 'mq2', 'mq3']);
    const brokersUp = await run(inv, ['--phase', 'build,configure,runtime'], 'up.json');
    expect(brokersUp.code, out(brokersUp)).toBe(0);

    await startSimulator(['mq1', 'mq2', 'mq3']);
    const first = await run(inv, [], 'first.json');
    expect(first.code, out(first)).toBe(0);
    // The admin may use the HA topics on every broker (granted in the cluster phase; already there on a kept sandbox).
    const acl = first.report!.steps.filter((s) => s.role === 'cedalo_ha' && s.step.startsWith('admin role may use'));
    expect(acl.map((s) => s.host).sort()).toEqual(['mq1', 'mq2', 'mq3']);
    for (const s of acl) expect(['changed', 'ok']).toContain(s.status);
    const formed = ranMembership(first.report!);
    expect(formed.status).toBe('changed');
    expect(formed.changes!.join('\n')).toMatch(/create cluster "e2e-cedalo" on mq1 with mq1=\d+, mq2=\d+, mq3=\d+; join mq2 .*; join mq3 /);

    const infos = await Promise.all(['mq1', 'mq2', 'mq3'].map(getCluster));
    for (const i of infos) expect(i?.ha.nodes).toHaveLength(3);
    expect(infos.filter((i) => i!.leader)).toHaveLength(1);
    expect(infos[0]).toMatchObject({ leader: true, ha: { clustername: 'e2e-cedalo', syncmode: 'full' } });
    // Node addresses are the brokers' primary (sandbox) addresses, on the cluster port.
    expect(infos[0]!.ha.nodes.map((n) => `${n.address}:${n.port}`).sort()).toEqual(sb.hosts.slice(0, 3).map((h) => `${h.address}:7000`).sort());

    const second = await run(inv, [], 'second.json');
    expect(second.code, out(second)).toBe(0);
    const again = ranMembership(second.report!);
    expect(again.status, out(second)).toBe('ok');
    expect(again.message).toMatch(/^cluster "e2e-cedalo" \(full\): 3 nodes .*; leader mq1$/);
    expect(second.report!.steps.filter((s) => s.role.startsWith('cedalo_ha') && s.status === 'changed')).toEqual([]);
  });

  it('adds mq4: addNode on the leader, joinCluster on mq4', async () => {
    const inv = writeInventory(['mq1', 'mq2', 'mq3', 'mq4']);
    const up = await run(inv, ['--phase', 'build,configure,runtime', '--limit', 'mq4'], 'mq4-up.json');
    expect(up.code, out(up)).toBe(0);
    await startSimulator(['mq1', 'mq2', 'mq3', 'mq4']);

    const r = await run(inv, [], 'grow.json');
    expect(r.code, out(r)).toBe(0);
    const grown = ranMembership(r.report!);
    expect(grown.status).toBe('changed');
    expect(grown.changes!.join('\n')).toMatch(/^Cedalo HA: add mq4 \(node \d+ \(10\.[\d.]+:7000\)\) to the cluster \(on leader mq1\); join mq4 /);
    expect(simLog.filter((l) => /\[mq1\] addNode ok|\[mq4\] joinCluster ok/.test(l))).toEqual(['[mq1] addNode ok', '[mq4] joinCluster ok']);
    const info = await getCluster('mq4');
    expect(info).toMatchObject({ leader: false, ha: { clustername: 'e2e-cedalo' } });
    expect(info!.ha.nodes).toHaveLength(4);
    expect(sim!.state().cluster!.members).toHaveLength(4);
  });

  it('removes mq4 when it is marked state: absent', async () => {
    const inv = writeInventory(['mq1', 'mq2', 'mq3', 'mq4'], ['mq4']);
    const r = await run(inv, [], 'shrink.json');
    expect(r.code, out(r)).toBe(0);
    const shrunk = ranMembership(r.report!);
    expect(shrunk.status).toBe('changed');
    expect(shrunk.changes!.join('\n')).toMatch(/remove mq4 \(node \d+ .*\) from the cluster \(on leader mq1\); mq4 leaves the cluster/);
    expect(simLog).toContain('[mq1] removeNode ok');
    // The cluster step runs before the decommissioning play: mq4 could still be told to leave.
    expect(simLog).toContain('[mq4] leaveCluster ok');
    expect(r.report!.steps.find((s) => s.host === 'mq4' && s.role === 'cedalo_ha')).toMatchObject({ step: 'out of the Cedalo HA cluster before it is decommissioned', status: 'ok' });
    expect(await sh('mq4', 'systemctl is-active mosquitto || true')).toBe('inactive');
    const info = await getCluster('mq1');
    expect(info!.ha.nodes).toHaveLength(3);
    expect(info!.ha.nodes.map((n) => n.address)).not.toContain(sb.hosts[3]!.address);
  });

  it('refuses to go below 3 nodes: the run fails clearly and nothing is removed', async () => {
    const before = sim!.state().cluster!;
    const inv = writeInventory(['mq1', 'mq2', 'mq3', 'mq4'], ['mq3', 'mq4']);
    const r = await run(inv, [], 'refuse.json');
    expect(r.code, out(r)).not.toBe(0);
    const refused = ranMembership(r.report!);
    expect(refused.status).toBe('failed');
    expect(refused.message).toBe('refusing to remove mq3 from the Cedalo HA cluster: it would keep 2 nodes and needs at least 3');
    expect(r.stdout).toContain('refusing to remove mq3 from the Cedalo HA cluster');
    const after = sim!.state().cluster!;
    expect(after.members).toEqual(before.members);
    expect(simLog.filter((l) => / removeNode/.test(l))).toEqual(['[mq1] removeNode ok']);
    // mq3 is kept in service: its decommissioning waits for the membership step and fails with it.
    expect(r.report!.steps.find((s) => s.host === 'mq3' && s.role === 'cedalo_ha')).toMatchObject({ status: 'failed', message: expect.stringMatching(/^kept in service: the Cedalo HA membership step failed on mq\d: refusing to remove mq3/) });
    expect(r.report!.steps.filter((s) => s.host === 'mq3' && s.role === 'decommission')).toEqual([]);
    expect(await sh('mq3', 'systemctl is-active mosquitto || true')).toBe('active');
  });
});
