// Issue 8, item 6, end to end on one Debian 12 sandbox host: `exporter_source: host-build` builds the exporter
// ON the host — Go from Debian through the sandbox's apt proxy, the build as an unprivileged system user in a
// build dir it owns, only the install of the finished binary as root — and the exporter serves on 9234.
// The sources come from a git daemon this test runs on the sandbox's gateway: the real sapcc/mosquitto-exporter
// v0.8.0 where its upstream repository is beside the checkout, else the stand-in.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hostShell, sandboxDown, sandboxUp, type Sandbox } from '../../src/sandbox/index.js';
import { eventually, metrics, metricValue, probeTcp } from '../support/broker-checks.js';
import { changedCount, provision, type CliResult } from '../support/cli.js';
import { exporterSource, type ExporterSource } from '../support/upstream-exporter.js';

const SANDBOX = 'c-hostbuild';
const HOST = 'mq1';
const BUILD_DIR = '/var/cache/provision/exporter-build';

let sb: Sandbox;
let work: string;
let inventory: string;
let exporter: ExporterSource;
let daemon: ChildProcess | undefined;
const timings: Array<[string, number]> = [];

const sh = async (cmd: string, timeoutMs = 60_000): Promise<string> => (await hostShell(SANDBOX, HOST, cmd, { timeoutMs })).stdout.trim();
const address = (): string => sb.hosts.find((h) => h.name === HOST)!.address;
const out = (r: CliResult): string => `exit ${r.code}\n${r.stdout.slice(-8000)}\n${r.stderr.slice(-3000)}`;

async function run(name: string): Promise<CliResult> {
  const started = Date.now();
  const r = await provision(['-i', inventory, '-i', sb.inventoryPath], { json: join(work, `${name}.json`) });
  timings.push([`provision ${name}`, Date.now() - started]);
  return r;
}

/** A free TCP port on `host` (listen on 0, read it, close). */
function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on('error', reject);
    s.listen(0, host, () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** `git daemon` serving the exporter repository read-only to the sandbox hosts (on the gateway address only). */
async function serveRepo(repo: string, host: string): Promise<string> {
  const port = await freePort(host);
  const base = dirname(repo);
  daemon = spawn('git', ['daemon', '--reuseaddr', '--export-all', `--base-path=${base}`, `--listen=${host}`, `--port=${port}`, base], { stdio: ['ignore', 'ignore', 'pipe'] });
  await eventually('git daemon listening', async () => (await probeTcp(host, port, 1000)) === 'open', 10_000, 100);
  return `git://${host}:${port}/${basename(repo)}`;
}

describe('exporter_source: host-build on a Debian 12 host, as an unprivileged build user', () => {
  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'provision-e2e-hostbuild-'));
    await sandboxDown({ name: SANDBOX });
    sb = await sandboxUp({ name: SANDBOX, count: 1, prefix: 'mq' });
    exporter = await exporterSource(join(work, 'repos', 'exporter.git'));
    const url = await serveRepo(exporter.dir, sb.gateway);
    inventory = join(work, 'brokers.yaml');
    writeFileSync(
      inventory,
      `all:
  vars:
    sys_interval: 1
    exporter_source: host-build
    exporter_repo_url: ${url}
    exporter_ref: ${exporter.ref}
  children:
    brokers:
      hosts:
        ${HOST}: {}
`,
    );
  }, 600_000);

  afterAll(async () => {
    if (daemon?.pid) process.kill(daemon.pid);
    await sandboxDown({ name: SANDBOX });
    process.stdout.write(`\nhost-build e2e (${exporter?.real ? 'real sapcc exporter v0.8.0' : 'stand-in exporter'}; files in ${work}):\n${timings.map(([w, ms]) => `  ${(ms / 1000).toFixed(1).padStart(6)} s  ${w}`).join('\n')}\n`);
  });

  it('provisions from a bare host: Go from apt, the build as the build user, the binary installed by root; the exporter serves on 9234', async () => {
    const cold = await run('cold');
    expect(cold.code, out(cold)).toBe(0);
    const build = cold.report!.steps.find((s) => s.step.startsWith('build the exporter on the host'))!;
    expect(build.status).toBe('changed');

    // The build user: a no-login system account owning the build dir; nothing below it belongs to root.
    const [, , uid, , , home, shell] = (await sh('getent passwd exporter-build')).split(':');
    expect(Number(uid)).toBeGreaterThan(0);
    expect(Number(uid)).toBeLessThan(1000);
    expect([home, shell]).toEqual([BUILD_DIR, '/usr/sbin/nologin']);
    expect(await sh(`stat -c '%U %a' ${BUILD_DIR}`)).toBe('exporter-build 700');
    expect(await sh(`find ${BUILD_DIR} ! -user exporter-build | wc -l`)).toBe('0');
    expect(Number(await sh(`find ${BUILD_DIR}/bin -type f -name 'mosquitto_exporter-*' | wc -l`))).toBeGreaterThanOrEqual(1);
    // Only the installed copy is root's.
    expect(await sh("stat -c '%U:%G %a' /usr/local/bin/mosquitto_exporter")).toBe('root:root 755');
    expect(await sh('cat /usr/local/lib/provision/exporter.ref')).toBe(exporter.ref);
    if (exporter.real) expect(await sh('/usr/local/bin/mosquitto_exporter --version 2>&1')).toContain('0.8.0 (e268064)');

    // Live metrics from the broker: broker_uptime is served and moves on between two scrapes.
    const first = await eventually('exporter /metrics with broker_uptime', async () => metricValue(await metrics(address()), 'broker_uptime'), 60_000);
    await eventually('broker_uptime advancing', async () => (metricValue(await metrics(address()), 'broker_uptime') ?? 0) > first, 30_000);
  });

  it('a second run builds nothing and changes nothing', async () => {
    const again = await run('again');
    expect(again.code, out(again)).toBe(0);
    expect(changedCount(again.report!)).toBe(0);
    expect(again.report!.steps.find((s) => s.step.startsWith('build the exporter on the host'))?.message).toContain('not run');
  });
});
