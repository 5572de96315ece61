// A provisioned HA cluster on sandbox hosts for the throughput and failover benchmarks:
// 3 brokers (mq1..mq3) and one separate load balancer (lb1), active-passive.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { addHosts, sandboxUp, type Sandbox } from '../src/sandbox/index.js';
import { makeExporterGitRepo } from '../test/support/exporter-fixture.js';
import { log, must, PROJECT, timed } from './lib.js';

export const HA_SANDBOX = 'bench-ha';

export interface HaCluster {
  sb: Sandbox;
  inventory: string;
  ca: Buffer;
  user: string;
  password: string;
  address(host: string): string;
}

export async function haCluster(mode: 'active-passive' | 'active-active' = 'active-passive'): Promise<HaCluster> {
  let sb = await sandboxUp({ name: HA_SANDBOX, count: 3, prefix: 'mq' });
  sb = await addHosts({ name: HA_SANDBOX, names: ['lb1'] });
  const dir = join(sb.stateDir, 'cluster');
  mkdirSync(dir, { recursive: true });
  const repo = await makeExporterGitRepo(join(dir, 'exporter-src'));
  const inventory = join(dir, 'hosts.yaml');
  writeFileSync(
    inventory,
    `all:
  vars:
    cluster_mode: ${mode}
    max_keepalive: 60
    max_queued_messages: 100000
    exporter_repo_url: ${repo.url}
  children:
    brokers:
      hosts: { mq1: {}, mq2: {}, mq3: {} }
    loadbalancers:
      hosts: { lb1: {} }
`,
  );
  log(`provisioning ${HA_SANDBOX} (${mode}) …`);
  must(await timed(process.execPath, [join(PROJECT, 'bin', 'provision.js'), '-i', inventory, '-i', sb.inventoryPath], { env: { CI: '1' } }), 'provision');
  const password = readFileSync(join(dir, 'secrets', 'verify_password'), 'utf8').trim();
  return {
    sb,
    inventory,
    ca: readFileSync(join(dir, 'pki', 'ca.crt')),
    user: 'provision-verify',
    password,
    address: (h) => sb.hosts.find((x) => x.name === h)!.address,
  };
}
