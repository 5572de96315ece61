// Issue 8, item 3, end to end on one Debian 12 sandbox broker: a value that passes validation but breaks the
// broker (mqtt_local_port: 22, where sshd already listens) is rolled back in EVERY file the change wrote —
// mosquitto.conf and the exporter's environment file — so the exporter still works after its next restart;
// and a backup copy left by an interrupted run is removed by a run that finds the host converged.
// The exporter is the real sapcc/mosquitto-exporter v0.8.0 (controller build) where its upstream repository
// is beside the checkout, else the stand-in.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunReport } from '../../src/engine/records.js';
import { hostShell, sandboxDown, sandboxUp, type Sandbox } from '../../src/sandbox/index.js';
import { eventually, metrics, metricValue, tryLogin } from '../support/broker-checks.js';
import { changedCount, provision, type CliResult } from '../support/cli.js';
import { exporterSource, type ExporterSource } from '../support/upstream-exporter.js';

const SANDBOX = 'c-rollback';
const HOST = 'mq1';
const ENV_FILE = '/etc/mosquitto-exporter/env';
const CONF = '/etc/mosquitto/mosquitto.conf';

let sb: Sandbox;
let work: string;
let inventory: string;
let exporter: ExporterSource;
const timings: Array<[string, number]> = [];

const sh = async (cmd: string, timeoutMs = 60_000): Promise<string> => (await hostShell(SANDBOX, HOST, cmd, { timeoutMs })).stdout.trim();
const address = (): string => sb.hosts.find((h) => h.name === HOST)!.address;
const out = (r: CliResult): string => `exit ${r.code}\n${r.stdout.slice(-6000)}\n${r.stderr.slice(-3000)}`;
const report = (r: CliResult): RunReport => {
  if (!r.report) throw new Error(`no --json report: ${out(r)}`);
  return r.report;
};
const sha = async (path: string): Promise<string> => (await sh(`sha256sum ${path}`)).split(' ')[0]!;
const adminLogin = () => ({ username: 'provision-admin', password: readFileSync(join(work, 'secrets', 'mqtt_admin_password'), 'utf8').trim() });
const tls = () => ({ address: address(), servername: HOST, ca: readFileSync(join(work, 'pki', 'ca.crt')) });

async function run(name: string, extra: string[] = []): Promise<CliResult> {
  const started = Date.now();
  const r = await provision(['-i', inventory, '-i', sb.inventoryPath, ...extra], { json: join(work, `${name}.json`) });
  timings.push([`provision ${name}`, Date.now() - started]);
  return r;
}

/** The exporter serves live broker metrics: broker_uptime is there and moves on between two scrapes. */
async function exporterServes(): Promise<string> {
  const first = await eventually('exporter /metrics with broker_uptime', async () => metricValue(await metrics(address()), 'broker_uptime'), 60_000);
  return eventually('broker_uptime advancing', async () => {
    const body = await metrics(address());
    return (metricValue(body, 'broker_uptime') ?? 0) > first ? body : undefined;
  }, 30_000);
}

describe('rollback of a broken change covers every file it wrote (1 Debian 12 broker)', () => {
  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'provision-e2e-rollback-'));
    await sandboxDown({ name: SANDBOX });
    sb = await sandboxUp({ name: SANDBOX, count: 1, prefix: 'mq' });
    exporter = await exporterSource(join(work, 'exporter.git'));
    inventory = join(work, 'brokers.yaml');
    writeFileSync(
      inventory,
      `all:
  vars:
    sys_interval: 1
    exporter_repo_url: ${exporter.url}
    exporter_ref: ${exporter.ref}
  children:
    brokers:
      hosts:
        ${HOST}: {}
`,
    );
  }, 600_000);

  afterAll(async () => {
    await sandboxDown({ name: SANDBOX });
    process.stdout.write(`\nrollback e2e (${exporter?.real ? 'real sapcc exporter v0.8.0' : 'stand-in exporter'}; files in ${work}):\n${timings.map(([w, ms]) => `  ${(ms / 1000).toFixed(1).padStart(6)} s  ${w}`).join('\n')}\n`);
  });

  it('converges, the exporter serving broker metrics on 9234', async () => {
    const cold = await run('cold');
    expect(cold.code, out(cold)).toBe(0);
    const body = await exporterServes();
    expect(body).toMatch(/^broker_messages_received\b/m);
    if (exporter.real) expect(await sh('/usr/local/bin/mosquitto_exporter --version 2>&1')).toContain('0.8.0 (e268064)');
  });

  it('mqtt_local_port: 22 fails the restart; mosquitto.conf AND the exporter env are restored, the broker serves, the exporter survives its restart', async () => {
    const goodEnv = await sha(ENV_FILE);
    const goodConf = await sha(CONF);
    expect(await sh(`cat ${ENV_FILE}`)).toContain('BROKER_ENDPOINT=tcp://127.0.0.1:1883');

    const broken = await run('port-22', ['-e', 'mqtt_local_port=22']);
    expect(broken.code, out(broken)).toBe(2);
    const r = report(broken);
    expect(r.hosts.map((h) => [h.host, h.state])).toEqual([[HOST, 'failed']]);
    const restart = r.steps.find((s) => s.step === 'restart mosquitto and check it serves TLS logins')!;
    expect(restart.status).toBe('failed');
    expect(restart.message).toContain(`restored ${CONF}`);
    expect(restart.message).toContain(`restored ${ENV_FILE}`);
    expect(restart.message).toContain('broker serving again');

    // Every file is back as it was: same content, no backup copy left; the rejected config is kept to read.
    expect(await sha(ENV_FILE)).toBe(goodEnv);
    expect(await sha(CONF)).toBe(goodConf);
    expect(await sh(`grep -c 'listener 22 ' ${CONF}.failed`)).toBe('1');
    expect(await sh(`ls /etc/mosquitto /etc/mosquitto-exporter | grep -c provision-prev || true`)).toBe('0');
    expect(await sh('ls /etc/mosquitto-exporter')).toBe('env'); // no copy of the secret-holding file kept

    // The broker serves on the old configuration: a TLS login from outside, the local listener on 1883.
    expect(await tryLogin(tls(), adminLogin())).toEqual({ ok: true });
    expect(await sh("ss -Hltn 'sport = :1883' | wc -l")).toBe('1');

    // The exporter's next restart (a reboot, a package upgrade …) finds a working configuration.
    const before = await sh('systemctl show -p MainPID --value mosquitto-exporter');
    await sh('systemctl restart mosquitto-exporter');
    expect(await sh('systemctl show -p MainPID --value mosquitto-exporter')).not.toBe(before);
    await exporterServes();
  });

  it('a stale mosquitto.conf.provision-prev (left by an interrupted run) is removed by a converged run, without a restart; the next run changes nothing', async () => {
    await sh(`printf 'listener 1999\\n' > ${CONF}.provision-prev`);
    const pid = await sh('systemctl show -p MainPID --value mosquitto');
    const converged = await run('stale-backup');
    expect(converged.code, out(converged)).toBe(0);
    const r = report(converged);
    const changed = r.steps.filter((s) => s.status === 'changed');
    expect(changed.map((s) => [s.step, s.changes])).toEqual([['remove backup copies left by an earlier run', [`remove ${CONF}.provision-prev`]]]);
    expect(await sh(`test -e ${CONF}.provision-prev && echo present || echo absent`)).toBe('absent');
    expect(await sh('systemctl show -p MainPID --value mosquitto')).toBe(pid);

    const again = await run('again');
    expect(again.code, out(again)).toBe(0);
    expect(changedCount(report(again))).toBe(0);
  });
});
