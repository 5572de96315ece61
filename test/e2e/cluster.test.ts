import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addHosts, hostShell, sandboxDown, sandboxUp, startHost, stopHost, type Sandbox } from '../../src/sandbox/index.js';
import { changedCount, provision } from '../support/cli.js';
import { makeExporterGitRepo } from '../support/exporter-fixture.js';
import { measureFailover, type FailoverResult } from '../support/failover.js';
import { APP_ENV, APP_USER_VARS } from '../support/inventory-fragments.js';

const NAME = 'e2e-cluster';
let sb: Sandbox;
let dir: string;
let vip: string;
const figures: Record<string, FailoverResult> = {};
const sh = async (host: string, cmd: string) => (await hostShell(sb.name, host, cmd)).stdout.trim();

function writeInventory(brokers: string[], absent: string[] = []): string {
  const inv = join(dir, 'hosts.yaml');
  const hostLines = (hs: string[]) => hs.map((h) => `        ${h}: ${absent.includes(h) ? '{ state: absent }' : '{}'}`).join('\n');
  writeFileSync(
    inv,
    `all:
  vars:
    cluster_mode: active-passive
    cluster_vip: ${vip}/24
    exporter_repo_url: ${readFileSync(join(dir, 'exporter-url'), 'utf8')}
${APP_USER_VARS}
  children:
    brokers:
      hosts:
${hostLines(brokers)}
    loadbalancers:
      hosts:
        lb1: {}
        lb2: {}
`,
  );
  return inv;
}

const env = APP_ENV;
const run = (inv: string, extra: string[] = [], json = 'run.json') => provision(['-i', inv, '-i', sb.inventoryPath, ...extra], { env, json: join(dir, json) });
const verify = (inv: string) => provision(['verify', '-i', inv, '-i', sb.inventoryPath], { env });

describe('HA cluster: 3 brokers behind 2 load balancers with a VIP', () => {
  beforeAll(async () => {
    sb = await sandboxUp({ name: NAME, count: 3, prefix: 'mq' });
    sb = await addHosts({ name: NAME, names: ['lb1', 'lb2'] });
    dir = join(sb.stateDir, 'cluster');
    mkdirSync(dir, { recursive: true });
    vip = sb.gateway.replace(/\.1$/, '.100');
    const repo = await makeExporterGitRepo(join(dir, 'exporter-src'));
    writeFileSync(join(dir, 'exporter-url'), repo.url);
  });
  afterAll(async () => {
    mkdirSync('bench/out', { recursive: true });
    writeFileSync('bench/out/failover-e2e.json', `${JSON.stringify(figures, null, 2)}\n`);
    await sandboxDown({ name: NAME });
  });

  it('one run from bare hosts gives a verified cluster; a second run changes nothing', async () => {
    const inv = writeInventory(['mq1', 'mq2', 'mq3']);
    const first = await run(inv);
    expect(first.code, first.stdout + first.stderr).toBe(0);
    const v = await verify(inv);
    expect(v.code, v.stdout + v.stderr).toBe(0);
    expect(v.stdout).toContain('through VIP');
    const second = await run(inv, [], 'second.json');
    expect(second.code, second.stdout).toBe(0);
    expect(changedCount(second.report!), second.stdout).toBe(0);
  });

  it('scales out to 4 brokers and back to 3; HAProxy reloads keep established connections', async () => {
    sb = await addHosts({ name: NAME, names: ['mq4'] });
    // A client connected through lb1 before the load balancers are reloaded with a new server.
    const lb1 = sb.hosts.find((h) => h.name === 'lb1')!.address;
    const client = connect({ host: lb1, port: 8883, protocol: 'mqtts', ca: readFileSync(join(dir, 'pki', 'ca.crt')), servername: 'lb1', username: 'app', password: env.APP_PW, reconnectPeriod: 0, clientId: 'reload-watcher' });
    let closed = 0;
    await new Promise<void>((resolve, reject) => {
      client.once('connect', () => resolve());
      client.once('error', reject);
    });
    client.on('close', () => closed++);
    const grown = writeInventory(['mq1', 'mq2', 'mq3', 'mq4']);
    const r = await run(grown, [], 'grow.json');
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.report!.steps.some((x) => x.host === 'lb1' && x.step === 'haproxy.cfg' && x.changed)).toBe(true);
    await new Promise<void>((resolve, reject) => client.publish('app/reload', 'still here', { qos: 1 }, (err) => (err ? reject(err) : resolve())));
    expect(closed, 'the connection made before the reload was dropped').toBe(0);
    client.end(true);
    const v = await verify(grown);
    expect(v.code, v.stdout).toBe(0);
    expect(v.stdout).toMatch(/HAProxy on lb1 sees every broker UP — .*mq4=UP/);

    const shrunk = writeInventory(['mq1', 'mq2', 'mq3', 'mq4'], ['mq4']);
    const s = await run(shrunk, [], 'shrink.json');
    expect(s.code, s.stdout + s.stderr).toBe(0);
    expect(await sh('lb1', 'grep -c "server mq4" /etc/haproxy/haproxy.cfg || true')).toBe('0');
    expect(await sh('mq4', 'systemctl is-active mosquitto || true')).toBe('inactive');
    expect(await sh('mq4', 'systemctl is-enabled mosquitto || true')).toBe('disabled');
    // Drained before stopped: the load balancers were regenerated in an earlier play than the broker stop.
    const steps = s.report!.steps;
    const lbChange = steps.findIndex((x) => x.host === 'lb1' && x.step === 'haproxy.cfg' && x.changed);
    const stop = steps.findIndex((x) => x.host === 'mq4' && x.role === 'decommission' && x.changed);
    expect(lbChange).toBeGreaterThanOrEqual(0);
    expect(stop).toBeGreaterThan(lbChange);
    const v3 = await verify(shrunk);
    expect(v3.code, v3.stdout).toBe(0);
  });

  it('a killed broker, then a stopped host, leave the service answering through the VIP', async () => {
    const inv = join(dir, 'hosts.yaml');
    const ca = readFileSync(join(dir, 'pki', 'ca.crt'));
    const base = { host: vip, port: 8883, ca, servername: vip, username: 'app', password: env.APP_PW, ratePerSecond: 10, beforeMs: 3000, afterMs: 8000 };
    figures.killBroker = await measureFailover({ ...base, topic: 'app/failover/kill', fault: async () => void (await sh('mq1', 'systemctl kill -s KILL mosquitto')) });
    figures.stopHost = await measureFailover({ ...base, topic: 'app/failover/stop', fault: () => stopHost(NAME, 'mq2') });
    for (const [k, f] of Object.entries(figures)) {
      console.log(`failover ${k}: back after ${f.recoveryMs} ms, longest silence ${f.gapMs} ms, lost ${f.lost}/${f.sent}, published in the silent window ${f.publishedInGap}`);
      expect(f.recoveryMs, k).toBeLessThan(5000);
      expect(f.lost, k).toBeLessThanOrEqual(f.publishedInGap);
    }
    await startHost(NAME, 'mq2');
    const heal = await run(inv, [], 'heal.json');
    expect(heal.code, heal.stdout).toBe(0);
    expect(await sh('mq1', 'systemctl is-active mosquitto')).toBe('active');
    const v = await verify(inv);
    expect(v.code, v.stdout).toBe(0);
  });
});
