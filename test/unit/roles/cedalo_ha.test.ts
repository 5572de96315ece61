/**
 * roles/cedalo_ha and the Cedalo section of roles/mosquitto_config:
 * - mosquitto.conf lines in real-plugin mode and in SIMULATOR mode (and that the simulator-mode file
 *   starts on the stock Mosquitto 2.0 installed here),
 * - the configure steps a host gets,
 * - the run-once cluster step against REAL local brokers answered by the Cedalo HA SIMULATOR
 *   (test/fixtures/cedalo-ha-simulator): check mode shows the plan and changes nothing; a real run
 *   forms/grows the cluster; refusals.
 */
import { Coordination } from '../../../src/engine/coordination.js';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Change, HostContext, PlayContext, Step, StepPlan } from '../../../src/engine/types.js';
import type { HostFacts } from '../../../src/facts/host-facts.js';
import { ASSUMED_FACTS } from '../../../src/engine/offline-context.js';
import type { InventoryHost } from '../../../src/inventory/types.js';
import { ControlClient } from '../../../src/mqtt/control-client.js';
import { Secret } from '../../../src/secrets.js';
import type { Transport } from '../../../src/transport/types.js';
import { ACL_SETTLED, aclStep } from '../../../roles/cedalo_ha/acl.js';
import { absentGuardStep, membershipStep } from '../../../roles/cedalo_ha/cluster.js';
import cedaloRole, { configureSteps, renderDropIn } from '../../../roles/cedalo_ha/index.js';
import { cedaloVars } from '../../../src/cluster/variables.js';
import { renderMosquittoConf, type MosquittoConfInput } from '../../../roles/mosquitto_config/template.js';
import { freePort, mosquittoAvailable, startLocalBroker, type LocalBroker } from '../../fixtures/cedalo-ha-simulator/local-broker.js';
import { startHaSimulator, type HaSimulator } from '../../fixtures/cedalo-ha-simulator/simulator.js';
import { z } from 'zod';

const base = (dir = '/var/lib/mosquitto', certDir = '/etc/mosquitto/certs'): MosquittoConfInput => ({
  pluginPath: '/usr/lib/x86_64-linux-gnu/mosquitto_dynamic_security.so',
  dynsecFile: `${dir}/dynamic-security.json`,
  dataDir: dir,
  certDir,
  localPort: 1883,
  tlsPort: 8883,
  maxKeepalive: 60,
  maxPacketSize: 1048576,
  setTcpNodelay: true,
  sysInterval: 10,
  persistence: true,
  autosaveInterval: 60,
  maxQueuedMessages: 1000,
  extra: [],
});
const activeLines = (conf: string) => conf.split('\n').filter((l) => l.trim() && !l.startsWith('#'));

describe('mosquitto.conf with cluster_backend: cedalo', () => {
  it('real-plugin mode: global_plugin, enable_control_api and an admin listener', () => {
    const lines = activeLines(renderMosquittoConf({ ...base(), cedalo: { pluginPath: '/usr/lib/cedalo_mosquitto_ha.so', adminPort: 1885 } }));
    expect(lines).toContain('global_plugin /usr/lib/cedalo_mosquitto_ha.so');
    expect(lines).toContain('enable_control_api true');
    const l = lines.indexOf('listener 1885');
    expect(l).toBeGreaterThan(lines.indexOf('listener 8883'));
    expect(lines[l + 1]).toBe('admin_listener true');
    // global options stay in the global section, before the first listener
    expect(lines.indexOf('global_plugin /usr/lib/cedalo_mosquitto_ha.so')).toBeLessThan(lines.indexOf('listener 1883 127.0.0.1'));
  });

  it('simulator mode (plugin path null): none of the Cedalo-only options, a plain loopback listener', () => {
    const conf = renderMosquittoConf({ ...base(), cedalo: { pluginPath: null, adminPort: 1885 } });
    const lines = activeLines(conf);
    expect(lines.filter((x) => /global_plugin|enable_control_api|admin_listener/.test(x))).toEqual([]);
    expect(lines).toContain('listener 1885 127.0.0.1');
    expect(conf).toContain('SIMULATOR MODE');
  });

  it('open-source: nothing of it', () => {
    const conf = renderMosquittoConf(base());
    expect(conf).not.toMatch(/cedalo|1885|global_plugin|enable_control_api/i);
  });

  it.skipIf(!!mosquittoAvailable())('simulator mode starts on the stock Mosquitto installed here', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'provision-cedalo-conf-'));
    const child = { pid: undefined as number | undefined, kill: () => undefined as unknown };
    try {
      const certDir = join(dir, 'certs');
      execFileSync('mkdir', ['-p', certDir]);
      execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-subj', '/CN=localhost', '-days', '1', '-keyout', join(certDir, 'server.key'), '-out', join(certDir, 'server.crt')], { stdio: 'ignore' });
      execFileSync('cp', [join(certDir, 'server.crt'), join(certDir, 'ca.crt')]);
      execFileSync('mosquitto_ctrl', ['dynsec', 'init', join(dir, 'dynamic-security.json'), 'admin', 'conf-test-pw'], { stdio: 'ignore' });
      const plugin = ['/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/usr/lib64', '/usr/lib'].map((d) => `${d}/mosquitto_dynamic_security.so`).find((p) => existsSync(p))!;
      const [localPort, tlsPort, adminPort] = [await freePort(), await freePort(), await freePort()];
      const conf = renderMosquittoConf({
        ...base(dir, certDir),
        pluginPath: plugin,
        localPort,
        tlsPort,
        tlsBind: '127.0.0.1',
        extra: process.getuid?.() === 0 ? ['user root'] : [],
        cedalo: { pluginPath: null, adminPort },
      });
      await writeFile(join(dir, 'mosquitto.conf'), conf);
      const p = spawn('mosquitto', ['-c', join(dir, 'mosquitto.conf')], { stdio: ['ignore', 'ignore', 'pipe'] });
      child.pid = p.pid;
      child.kill = () => p.kill('SIGTERM');
      let stderr = '';
      p.stderr.on('data', (d) => (stderr += d));
      const deadline = Date.now() + 10_000;
      let client: ControlClient | undefined;
      while (!client) {
        if (p.exitCode !== null) throw new Error(`mosquitto refused the simulator-mode configuration:\n${stderr}\n${conf}`);
        client = await ControlClient.connect({ url: `mqtt://127.0.0.1:${adminPort}`, username: 'admin', password: new Secret('conf-test-pw'), timeoutMs: 1000 }).catch((e) => {
          if (Date.now() > deadline) throw e;
          return new Promise<undefined>((r) => setTimeout(() => r(undefined), 200));
        });
      }
      const [r] = await client.request('dynamic-security', [{ command: 'getClient', username: 'admin' }]);
      expect(r!.error).toBeUndefined();
      await client.close();
    } finally {
      child.kill();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

/* ---------------------------------------------------------------------------------------------- */

const facts = (name: string, address: string): HostFacts => ({ ...ASSUMED_FACTS, hostname: name, fqdn: name, addresses: [address], primaryAddress: address });

const roleVars = z.object(cedaloVars);

interface Fake {
  hosts: string[];
  vars: Record<string, Record<string, unknown>>;
  /** host → local port standing for its 127.0.0.1:<admin port>. */
  ports: Record<string, number>;
  baseDir: string;
  /** PlayContext.coordination of this "run". */
  coordination: Coordination;
}

/** What a broker's ACL step posted for the membership step. */
const posted = (ctx: HostContext, host: string) => ctx.play.coordination.peek(ACL_SETTLED, ctx.play.name, host);

/** A play of fake hosts whose forwards to 127.0.0.1:<any port> reach a local broker. */
function context(f: Fake, host: string, check: boolean): HostContext & { vars: any } {
  const transports = new Map<string, Transport>(
    f.hosts.map((h) => [
      h,
      {
        host: h,
        sshPort: 22,
        roundTrips: 0,
        exec: async () => ({ stdout: '', stderr: '', code: 0 }),
        script: async () => ({ stdout: '', stderr: '', code: 0 }),
        forward: (_host: string, _port: number) =>
          new Promise((resolve, reject) => {
            const s = net.connect({ host: '127.0.0.1', port: f.ports[h]! });
            s.once('connect', () => resolve(s));
            s.once('error', reject);
          }),
        close: async () => undefined,
      },
    ]),
  );
  const inv: Map<string, InventoryHost> = new Map(f.hosts.map((h) => [h, { name: h, groups: ['all', 'brokers'], vars: f.vars[h]!, varSources: {} }]));
  const play: PlayContext = {
    name: 'Cedalo HA cluster',
    hosts: f.hosts,
    inventory: {
      files: [join(f.baseDir, 'hosts.yaml')],
      baseDir: f.baseDir,
      hosts: inv,
      groups: new Map([
        ['all', { name: 'all', children: ['brokers'], hosts: f.hosts }],
        ['brokers', { name: 'brokers', children: [], hosts: f.hosts }],
      ]),
      hostOrder: f.hosts,
      selectHosts: () => f.hosts,
    },
    facts: (h) => facts(h, `10.88.0.${f.hosts.indexOf(h) + 1}`),
    transport: (h) => transports.get(h),
    isFailed: () => false,
    coordination: f.coordination,
    options: { check, diff: true, forks: 5, tags: [], skipTags: [], verbose: false },
    projectDir: process.cwd(),
  };
  return {
    name: host,
    host: inv.get(host)!,
    facts: facts(host, '10.88.0.1'),
    transport: transports.get(host)!,
    phase: 'cluster',
    play,
    check,
    diff: true,
    batch: play.hosts,
    waitForOthers: (wait) => wait(),
    progress: () => undefined,
    run: async () => '',
    vars: { ...roleVars.parse(f.vars[host]), mqtt_admin_user: 'admin', mqtt_admin_password: new Secret(ADMIN_PW), mqtt_auth_backend: 'dynsec' },
  };
}

async function apply(ctx: HostContext, plan: StepPlan): Promise<string[]> {
  if ('skip' in plan) throw new Error(`skipped: ${plan.skip}`);
  const out: string[] = [];
  for (const c of plan.changes as Change[]) {
    const m = await c.apply?.(ctx);
    if (m) out.push(m);
  }
  return out;
}

const NO_FACTS = { get: () => { throw new Error('no facts'); } };
const planOf = (step: Step, ctx: HostContext) => step.plan(ctx, NO_FACTS) as Promise<StepPlan>;

const ADMIN_PW = 'cedalo-role-admin-pw';
const PREFIX = 'provision-sim/CONTROL';

describe('cedalo_ha configure steps', () => {
  it('does nothing unless cluster_backend is cedalo', () => {
    const f: Fake = { hosts: ['mq1'], vars: { mq1: {} }, ports: {}, baseDir: tmpdir(), coordination: new Coordination(() => false) };
    const ctx = context(f, 'mq1', true);
    expect(configureSteps({ ...ctx, vars: { ...ctx.vars, cluster_backend: 'open-source' } } as never)).toEqual([]);
    expect(cedaloRole.phases.cluster!({ ...ctx, vars: { ...ctx.vars, cluster_backend: 'open-source' } } as never)).toEqual([]);
  });

  it('real mode: licence, data dir, drop-in; a missing licence fails clearly', async () => {
    const f: Fake = { hosts: ['mq1'], vars: { mq1: { cluster_backend: 'cedalo' } }, ports: {}, baseDir: tmpdir(), coordination: new Coordination(() => false) };
    const ctx = context(f, 'mq1', true);
    const withLicence = configureSteps({ ...ctx, vars: { ...ctx.vars, cedalo_license_file: 'licence.lic' } } as never);
    expect(withLicence.map((s) => s.name)).toEqual([
      'Cedalo licence',
      'Cedalo HA data directory',
      'directory /etc/systemd/system/mosquitto.service.d',
      'Cedalo HA environment (systemd drop-in)',
    ]);
    expect(withLicence.find((s) => s.name.includes('drop-in'))!.notify).toEqual(['restart mosquitto']);
    const noLicence = configureSteps(ctx as never);
    expect(() => noLicence[0]!.plan(ctx, NO_FACTS)).toThrow(/cedalo_license_file is not set/);
    expect(renderDropIn({ license: true })).toBe(
      '# Managed by provision (cedalo_ha): environment of the Cedalo HA plugin.\n[Service]\nEnvironment=CEDALO_LICENSE_FILE=/etc/mosquitto/cedalo-license.lic\nEnvironment=CEDALO_HA_DATA_DIR=/var/lib/mosquitto/ha\n',
    );
  });

  it('simulator mode: no licence needed', () => {
    const f: Fake = { hosts: ['mq1'], vars: { mq1: { cluster_backend: 'cedalo', cedalo_ha_plugin_path: null } }, ports: {}, baseDir: tmpdir(), coordination: new Coordination(() => false) };
    const ctx = context(f, 'mq1', true);
    expect(configureSteps(ctx as never).map((s) => s.name)).toEqual(['Cedalo HA data directory', 'directory /etc/systemd/system/mosquitto.service.d', 'Cedalo HA environment (systemd drop-in)']);
  });
});

describe.skipIf(!!mosquittoAvailable())('cedalo_ha cluster step on real brokers + the Cedalo HA SIMULATOR', () => {
  const brokers: LocalBroker[] = [];
  let sim: HaSimulator;
  let dir: string;
  const hosts = ['mq1', 'mq2', 'mq3', 'mq4'];
  const fake = (vars: Record<string, Record<string, unknown>>, only = hosts): Fake => ({
    hosts: only,
    vars: Object.fromEntries(only.map((h) => [h, { cluster_backend: 'cedalo', cedalo_ha_plugin_path: null, cedalo_control_prefix: PREFIX, cluster_name: 'unit', mqtt_admin_user: 'admin', mqtt_admin_password: ADMIN_PW, ...vars[h] }])),
    ports: Object.fromEntries(hosts.map((h, i) => [h, brokers[i]!.port])),
    baseDir: dir,
    coordination: new Coordination(() => false),
  });
  const acl = () => aclStep({ adminPort: 1885, controlPrefix: PREFIX, login: { username: 'admin', password: new Secret(ADMIN_PW) } });
  /** The per-broker ACL steps of the cluster phase, as the engine would run them before the run-once step. */
  const settle = async (f: Fake, check: boolean) => {
    for (const h of f.hosts.filter((x) => f.vars[x]!.state !== 'absent')) {
      const ctx = context(f, h, check);
      const p = await planOf(acl(), ctx);
      if (!check) await apply(ctx, p);
    }
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'provision-cedalo-role-'));
    for (let i = 0; i < 4; i++) brokers.push(await startLocalBroker({ adminPassword: ADMIN_PW, extraAdminAcls: i === 0 ? [] : [{ acltype: 'publishClientSend', topic: `${PREFIX}/cedalo/ha/#` }] }));
    sim = await startHaSimulator({ nodes: brokers.map((b, i) => ({ host: hosts[i]!, url: b.url, username: 'admin', password: ADMIN_PW })), stateFile: join(dir, 'sim.json'), controlPrefix: PREFIX });
  }, 60_000);

  afterAll(async () => {
    await sim?.stop();
    for (const b of brokers) await b.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('grants the admin role the HA control API topics (check mode first), then nothing more', async () => {
    const f = fake({});
    const checked = await planOf(acl(), context(f, 'mq1', true));
    expect('changes' in checked && checked.changes[0]!.summary).toBe(
      `role admin: addRoleACL publishClientSend ${PREFIX}/cedalo/ha/#, addRoleACL publishClientReceive ${PREFIX}/cedalo/ha/#, addRoleACL subscribePattern ${PREFIX}/cedalo/ha/#`,
    );
    expect(posted(context(f, 'mq1', true), 'mq1')?.wouldGrant).toHaveLength(3);
    const ctx = context(f, 'mq1', false);
    expect(await apply(ctx, await planOf(acl(), ctx))).toEqual(['verified on a new session']);
    expect(posted(ctx, 'mq1')).toEqual({ granted: true });
    expect(await planOf(acl(), ctx)).toEqual({ changes: [] });
    expect(posted(ctx, 'mq1')).toEqual({ granted: false });
    // the other brokers: only what is missing
    const other = await planOf(acl(), context(f, 'mq2', true));
    expect('changes' in other && other.changes[0]!.summary).toBe(`role admin: addRoleACL publishClientReceive ${PREFIX}/cedalo/ha/#, addRoleACL subscribePattern ${PREFIX}/cedalo/ha/#`);
    // The plugin disconnected every admin session of mq1 (the simulator's too): let it resubscribe.
    for (let i = 0; i < 100 && !sim.reachable('mq1'); i++) await new Promise((r) => setTimeout(r, 100));
    expect(sim.reachable('mq1')).toBe(true);
  });

  it('check mode before the grants: the plan is what a new cluster would get, and says so', async () => {
    const f = fake({ mq4: { state: 'absent' } });
    await settle(f, true);
    const p = await planOf(membershipStep(context(f, 'mq1', true)), context(f, 'mq1', true));
    if (!('changes' in p)) throw new Error('skipped');
    expect(p.changes[0]!.summary).toMatch(/^Cedalo HA: create cluster "unit" on mq1 .* \(the HA API is not usable yet on mq2, mq3: planned as a new cluster\)$/);
  });

  it('check mode shows the planned formation and changes nothing; a run forms it; a second run is ok', async () => {
    const f = fake({ mq4: { state: 'absent' } });
    const step = membershipStep(context(f, 'mq2', true));
    expect(step.runOnce).toBe(true);
    await settle(f, false);
    const checked = await planOf(step, context(f, 'mq2', true));
    if (!('changes' in checked)) throw new Error('skipped');
    expect(checked.changes).toHaveLength(1);
    expect(checked.changes[0]!.summary).toMatch(/^Cedalo HA: create cluster "unit" on mq1 with mq1=\d+, mq2=\d+, mq3=\d+; join mq2 .*; join mq3 /);
    expect(checked.changes[0]!.diff!.split('\n')).toEqual([
      '  current: no cluster',
      expect.stringMatching(/^~ createCluster @mq1: /),
      expect.stringMatching(/^~ joinCluster @mq2: /),
      expect.stringMatching(/^~ joinCluster @mq3: /),
      expect.stringMatching(/^ {2}waitForMember @mq2: /),
      expect.stringMatching(/^ {2}waitForMember @mq3: /),
    ]);
    expect(sim.state().cluster).toBeUndefined();

    const ctx = context(f, 'mq2', false);
    const step2 = membershipStep(ctx, { waitTimeoutMs: 10_000 });
    const [msg] = await apply(ctx, await planOf(step2, ctx));
    expect(msg).toMatch(/^createCluster@mq1, joinCluster@mq2, joinCluster@mq3 → cluster "unit" \(full\): 3 nodes .*; leader mq1$/);
    expect(sim.state().cluster).toMatchObject({ clustername: 'unit', syncmode: 'full' });
    expect(sim.state().cluster!.members.map((m) => m.address).sort()).toEqual(['10.88.0.1', '10.88.0.2', '10.88.0.3']);

    const again = await planOf(step2, ctx);
    expect(again).toMatchObject({ changes: [], message: expect.stringMatching(/^cluster "unit" \(full\): 3 nodes/) });
  });

  it('plans adding mq4 in check mode (addNode on the leader, joinCluster on mq4), then adds it', async () => {
    const f = fake({});
    await settle(f, false);
    const checked = await planOf(membershipStep(context(f, 'mq3', true)), context(f, 'mq3', true));
    if (!('changes' in checked)) throw new Error('skipped');
    expect(checked.changes[0]!.diff!.split('\n').slice(1)).toEqual([
      expect.stringMatching(/^~ addNode @mq1: add mq4 \(node \d+ \(10\.88\.0\.4:7000\)\) to the cluster \(on leader mq1\)$/),
      expect.stringMatching(/^~ joinCluster @mq4: /),
      expect.stringMatching(/^ {2}waitForMember @mq4: /),
    ]);
    expect(sim.state().cluster!.members).toHaveLength(3);
    const ctx = context(f, 'mq3', false);
    await apply(ctx, await planOf(membershipStep(ctx, { waitTimeoutMs: 10_000 }), ctx));
    expect(sim.state().cluster!.members).toHaveLength(4);
  });

  it('removes an absent node, and refuses to go below 3 nodes without changing anything', async () => {
    const f = fake({ mq4: { state: 'absent' } });
    await settle(f, false);
    const ctx = context(f, 'mq1', false);
    await apply(ctx, await planOf(membershipStep(ctx, { waitTimeoutMs: 10_000 }), ctx));
    expect(await planOf(absentGuardStep(), context(f, 'mq4', false))).toEqual({ changes: [] });
    expect(sim.state().cluster!.members).toHaveLength(3);
    expect(sim.state().nodes.mq4).not.toHaveProperty('clusterUuid');

    const g = fake({ mq3: { state: 'absent' }, mq4: { state: 'absent' } });
    await settle(g, false);
    await expect(planOf(membershipStep(context(g, 'mq1', false)), context(g, 'mq1', false))).rejects.toThrow(
      'refusing to remove mq3 from the Cedalo HA cluster: it would keep 2 nodes and needs at least 3',
    );
    expect(sim.state().cluster!.members).toHaveLength(3);
    // …and the absent brokers are kept in service (their decommissioning would fail its wait)
    await expect(planOf(absentGuardStep(), context(g, 'mq3', false))).rejects.toThrow(/^kept in service: the Cedalo HA membership step failed on mq1: refusing to remove mq3/);
  });

  it('needs every present broker: a missing connection is named', async () => {
    const f = fake({});
    await settle(f, false);
    const ctx = context(f, 'mq1', false);
    const broken = { ...ctx, play: { ...ctx.play, transport: (h: string) => (h === 'mq2' ? undefined : ctx.play.transport(h)) } };
    await expect(planOf(membershipStep(broken), broken)).rejects.toThrow(/admin listener of a broker cannot be reached:\n {2}- mq2: not connected in this run/);
  });
});
