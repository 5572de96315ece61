/**
 * Rollback covers every file of a change (issue 8, item 3), with the real engine, the real file steps and the
 * real restart-with-rollback step of mosquitto_config. Each "host" is a directory on this machine and its
 * transport runs the engine's scripts with sh here; only the broker is missing: `systemctl restart mosquitto`
 * is answered without running and every health check's connection is refused, so each restart fails.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { restartWithRollback, revertConfig } from '../../../roles/mosquitto_config/restart.js';
import type { Play } from '../../../src/engine/playbook.js';
import type { RunReport, StepRecord } from '../../../src/engine/records.js';
import { fanOut } from '../../../src/engine/reporter.js';
import { runPlaybook } from '../../../src/engine/runner.js';
import { defineRole, type Role } from '../../../src/engine/types.js';
import { loadInventory } from '../../../src/inventory/load.js';
import { file } from '../../../src/operations/file.js';
import { Secret } from '../../../src/secrets.js';
import type { ExecResult, Transport } from '../../../src/transport/types.js';

/** Runs scripts with sh on this machine; the broker's restart and log are stand-ins. */
class LocalHost implements Transport {
  readonly sshPort = 22;
  roundTrips = 0;
  restarts = 0;
  constructor(readonly host: string) {}
  async exec(command: string): Promise<ExecResult> {
    return this.script(command);
  }
  script(text: string): Promise<ExecResult> {
    this.roundTrips++;
    // The broker's restart (systemd or SysV, after this machine's own host facts) is never run here.
    if (text === 'systemctl restart mosquitto' || text === '/etc/init.d/mosquitto restart') {
      this.restarts++;
      return Promise.resolve({ stdout: '', stderr: '', code: 0 });
    }
    if (/\b(systemctl|init\.d|service)\b/.test(text)) throw new Error(`refusing to run on this machine: ${text}`);
    if (text.startsWith('journalctl ') || text.includes('/var/log/mosquitto')) return Promise.resolve({ stdout: "Error: Address already in use\n", stderr: '', code: 0 });
    return new Promise((resolve, reject) => {
      const sh = spawn('sh', ['-s'], { stdio: ['pipe', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      sh.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
      sh.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
      sh.on('error', reject);
      sh.on('close', (code) => resolve({ stdout, stderr, code: code ?? 1 }));
      sh.stdin.end(text);
    });
  }
  async forward(): Promise<never> {
    throw new Error('connect ECONNREFUSED 127.0.0.1:8883');
  }
  async close(): Promise<void> {}
}

let root: string;
const hostDir = (h: string) => join(root, h);
const conf = (h: string) => join(hostDir(h), 'mosquitto.conf');
const env = (h: string) => join(hostDir(h), 'env');
const OLD_CONF = 'listener 1883 127.0.0.1\n';
const OLD_ENV = 'BROKER_ENDPOINT=tcp://127.0.0.1:1883\n';
const PAST = new Date('2026-01-01T00:00:00Z');

/** mosquitto_config and the exporter in miniature: the port in both files, each file backed up. */
function roles(port: number): Role[] {
  const vars = z.object({});
  const broker = defineRole({
    name: 'mosquitto_config',
    description: 'test: mosquitto.conf',
    vars,
    phases: { configure: (ctx) => [file({ name: 'mosquitto.conf', path: conf(ctx.name), content: `listener ${port} 127.0.0.1\n`, mode: '0640', backup: true, notify: ['restart mosquitto'] })] },
    handlers: {
      'restart mosquitto': {
        rolling: true,
        revert: () => [revertConfig()],
        steps: () => [restartWithRollback({ tlsPort: 8883, ca: async () => '', login: { username: 'admin', password: new Secret('not-used-here') }, healthTimeoutMs: 1 })],
      },
    },
  });
  const exporter = defineRole({
    name: 'exporter',
    description: 'test: exporter environment file',
    vars,
    phases: { configure: (ctx) => [file({ name: 'exporter env', path: env(ctx.name), content: `BROKER_ENDPOINT=tcp://127.0.0.1:${port}\n`, mode: '0600', sensitive: true, backup: true, notify: ['restart exporter'] })] },
    handlers: { 'restart exporter': { runAt: 'runtime', steps: () => [] } },
  });
  return [broker, exporter] as unknown as Role[];
}

async function run(port: number): Promise<{ report: RunReport; hosts: Map<string, LocalHost>; of: (h: string) => StepRecord[] }> {
  const invFile = join(root, 'hosts.yml');
  writeFileSync(invFile, 'all:\n  children:\n    brokers:\n      hosts:\n        mq1:\n        mq2:\n');
  const inventory = await loadInventory([invFile]);
  const play: Play = { name: 'brokers', hosts: 'brokers', roles: roles(port).map((role) => ({ role, tags: [] })), serial: [], file: '<memory>', line: 1 };
  const hosts = new Map<string, LocalHost>();
  const report = await runPlaybook({
    inventory,
    playbook: { file: '<memory>', plays: [play] },
    phases: ['configure', 'runtime'],
    options: { check: false, diff: false, forks: 10, tags: [], skipTags: [], verbose: false },
    events: fanOut([]),
    connect: async (h) => {
      const t = new LocalHost(h.name);
      hosts.set(h.name, t);
      return t;
    },
    version: 'test',
    projectDir: root,
  });
  return { report, hosts, of: (h) => report.steps.filter((s) => s.host === h) };
}

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'provision-rollback-'));
  for (const h of ['mq1', 'mq2']) {
    mkdirSync(hostDir(h));
    writeFileSync(conf(h), OLD_CONF, { mode: 0o640 });
    writeFileSync(env(h), OLD_ENV, { mode: 0o600 });
    utimesSync(conf(h), PAST, PAST);
    utimesSync(env(h), PAST, PAST);
  }
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('a broker restart that fails its health check', () => {
  it('restores every file the change wrote (mosquitto.conf and the exporter env), contents and timestamps; the rest of the rollout reverts both too', async () => {
    const { report, hosts, of } = await run(22);
    // mq1: restarted, unhealthy, both files back as they were before the run.
    const restart = of('mq1').find((s) => s.step === 'restart mosquitto and check it serves TLS logins')!;
    expect(restart.status).toBe('failed');
    expect(restart.message).toContain(`restored ${env('mq1')}`);
    expect(restart.message).toContain(`restored ${conf('mq1')}`);
    expect(hosts.get('mq1')!.restarts).toBe(2); // the failed config, then the restored one
    // mq2: the rollout stopped before it; not restarted, its files reverted as well.
    expect(hosts.get('mq2')!.restarts).toBe(0);
    expect(of('mq2').find((s) => s.step === 'restore the files this run changed (rollout stopped)')?.status).toBe('changed');
    for (const h of ['mq1', 'mq2']) {
      expect(readFileSync(conf(h), 'utf8')).toBe(OLD_CONF);
      expect(readFileSync(env(h), 'utf8')).toBe(OLD_ENV);
      // The old timestamps: nothing looks newer than the running broker/exporter, so nothing restarts later.
      expect(statSync(env(h)).mtime.getTime()).toBe(PAST.getTime());
      expect(statSync(conf(h)).mtime.getTime()).toBe(PAST.getTime());
      expect((statSync(env(h)).mode & 0o777).toString(8)).toBe('600');
      expect(existsSync(`${conf(h)}.provision-prev`)).toBe(false);
      expect(existsSync(`${env(h)}.provision-prev`)).toBe(false);
    }
    // The rejected mosquitto.conf is kept for reading; the env file holds a secret: no copy of it is kept.
    expect(readFileSync(`${conf('mq1')}.failed`, 'utf8')).toBe('listener 22 127.0.0.1\n');
    expect(existsSync(`${env('mq1')}.failed`)).toBe(false);
    expect(report.hosts.map((h) => [h.host, h.state])).toEqual([['mq1', 'failed'], ['mq2', 'ok']]);
  });
});

describe('backup copies', () => {
  it('one left by an interrupted run is removed by a run that finds the host converged, and reported; the next run changes nothing', async () => {
    for (const h of ['mq1', 'mq2']) {
      writeFileSync(conf(h), 'listener 1883 127.0.0.1\n');
      writeFileSync(`${conf(h)}.provision-prev`, 'listener 1999 127.0.0.1\n');
    }
    const first = await run(1883);
    for (const h of ['mq1', 'mq2']) {
      expect(existsSync(`${conf(h)}.provision-prev`)).toBe(false);
      expect(first.hosts.get(h)!.restarts).toBe(0);
      const removal = first.of(h).filter((s) => s.status === 'changed');
      expect(removal.map((s) => [s.step, s.changes])).toEqual([['remove backup copies left by an earlier run', [`remove ${conf(h)}.provision-prev`]]]);
    }
    const second = await run(1883);
    expect(second.report.hosts.map((h) => h.changed)).toEqual([0, 0]);
  });

  it('a file changed without a broker restart leaves no copy behind at the end of the run', async () => {
    writeFileSync(conf('mq1'), 'listener 1884 127.0.0.1\n');
    writeFileSync(conf('mq2'), 'listener 1884 127.0.0.1\n');
    const r = await run(1884); // only the env files change (1883 → 1884): no broker restart
    for (const h of ['mq1', 'mq2']) {
      expect(readFileSync(env(h), 'utf8')).toBe('BROKER_ENDPOINT=tcp://127.0.0.1:1884\n');
      expect(existsSync(`${env(h)}.provision-prev`)).toBe(false);
      expect(r.hosts.get(h)!.restarts).toBe(0);
      expect(r.of(h).filter((s) => s.status === 'changed').map((s) => s.step)).toEqual(['exporter env']);
    }
  });
});
