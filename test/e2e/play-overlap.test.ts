/**
 * The load balancers' build phase runs beside the brokers' play (src/engine/play-order.ts), on real hosts: a cold
 * run of playbooks/site.yaml on 2 brokers and 1 load balancer. The --json report's `steps` are in the order they
 * ended, so "lb1's build ended before the brokers' play ended" reads from it; the cluster still converges.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addHosts, sandboxDown, sandboxUp, type Sandbox } from '../../src/sandbox/index.js';
import { changedCount, provision } from '../support/cli.js';
import { makeExporterGitRepo } from '../support/exporter-fixture.js';
import { APP_ENV, APP_USER_VARS } from '../support/inventory-fragments.js';

const NAME = 'c-overlap';
let sb: Sandbox;
let dir: string;
let inv: string;

describe('play overlap: the load balancers build while the brokers play runs', () => {
  beforeAll(async () => {
    sb = await sandboxUp({ name: NAME, count: 2, prefix: 'mq' });
    sb = await addHosts({ name: NAME, names: ['lb1'] });
    dir = join(sb.stateDir, 'overlap');
    mkdirSync(dir, { recursive: true });
    const repo = await makeExporterGitRepo(join(dir, 'exporter-src'));
    inv = join(dir, 'hosts.yaml');
    writeFileSync(
      inv,
      `all:
  vars:
    cluster_mode: active-passive
    exporter_repo_url: ${repo.url}
${APP_USER_VARS}
  children:
    brokers:
      hosts:
        mq1: {}
        mq2: {}
    loadbalancers:
      hosts:
        lb1: {}
`,
    );
  }, 600_000);
  afterAll(async () => {
    await sandboxDown({ name: NAME });
  });

  it('cold run: lb1 installs haproxy before the brokers play ended, its configure starts after it; the cluster serves', async () => {
    // Controller-side arrival time of each output line: the plain renderer prints a changed step when it ends.
    const started = Date.now();
    const lines: { at: number; line: string }[] = [];
    let partial = '';
    const first = await provision(['-i', inv, '-i', sb.inventoryPath], {
      env: APP_ENV,
      json: join(dir, 'cold.json'),
      onStdout: (chunk) => {
        const parts = (partial + chunk).split('\n');
        partial = parts.pop()!;
        for (const line of parts) lines.push({ at: Date.now() - started, line });
      },
    });
    expect(first.code, first.stdout + first.stderr).toBe(0);
    const steps = first.report!.steps;
    const index = (pred: (s: (typeof steps)[number]) => boolean) => steps.findIndex(pred);
    const lastIndex = (pred: (s: (typeof steps)[number]) => boolean) => steps.map(pred).lastIndexOf(true);
    const brokersPlay = (s: (typeof steps)[number]) => s.play === 'Mosquitto brokers';
    const lbBuild = (s: (typeof steps)[number]) => s.host === 'lb1' && s.play === 'Load balancers' && s.phase === 'build';
    const haproxyInstall = index((s) => lbBuild(s) && s.role === 'haproxy');
    expect(haproxyInstall, 'lb1 has a haproxy build record').toBeGreaterThanOrEqual(0);
    expect(steps[haproxyInstall]!.status).toBe('changed');
    // The overlap: every build record of lb1 ended before the brokers' play's last record ended …
    expect(lastIndex(lbBuild)).toBeLessThan(lastIndex(brokersPlay));
    // … and the rest of the load balancers' play still comes after the brokers' play, as before.
    const lbLater = index((s) => s.play === 'Load balancers' && s.phase !== 'build');
    expect(lbLater).toBeGreaterThan(lastIndex(brokersPlay));
    expect(index((s) => s.play === 'Cluster membership')).toBeGreaterThan(lastIndex((s) => s.play === 'Load balancers'));

    // For the report: when (controller clock, from the run's start) lb1's haproxy install and the brokers' last
    // changed step were printed, and the run's wall time.
    const at = (re: RegExp) => lines.find((l) => re.test(l.line))?.at;
    const lastAt = (re: RegExp) => [...lines].reverse().find((l) => re.test(l.line))?.at;
    const figures = {
      wallMs: first.report!.durationMs,
      lbHaproxyInstallPrintedMs: at(/\[lb1\] haproxy \| /),
      lbPlayHeaderMs: at(/^PLAY \[Load balancers\]/),
      lastBrokerChangePrintedMs: lastAt(/^changed: \[mq\d\]/),
      lbConfigurePrintedMs: at(/\[lb1\] haproxy \| .*haproxy\.cfg/),
    };
    writeFileSync(join(dir, 'figures.json'), `${JSON.stringify(figures, null, 2)}\n`);
    console.log(`play overlap figures: ${JSON.stringify(figures)}`);

    const v = await provision(['verify', '-i', inv, '-i', sb.inventoryPath], { env: APP_ENV });
    expect(v.code, v.stdout + v.stderr).toBe(0);
    expect(v.stdout).toContain('HAProxy on lb1 sees every broker UP');

    const second = await provision(['-i', inv, '-i', sb.inventoryPath], { env: APP_ENV, json: join(dir, 'second.json') });
    expect(second.code, second.stdout).toBe(0);
    expect(changedCount(second.report!), second.stdout).toBe(0);
  }, 900_000);
});
