import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { c } from '../output/colors.js';
import { sandboxDown, sandboxUp } from '../sandbox/index.js';
import { makeExporterGitRepo } from '../exporter/stand-in-repo.js';
import { installDebianPackages } from '../controller/packages.js';
import { runCommand } from './run.js';
import { verifyCommand } from './verify.js';
import { runOptions, verifyOptions, type DemoOptions } from './options.js';
import type { CommandResult } from './result.js';

const NAME = 'demo';

/**
 * `provision demo`: three sandbox brokers with load balancing on the same hosts, provisioned from bare
 * hosts by the real playbook, then `provision verify`. `provision demo down` removes everything.
 */
export async function demoCommand(o: DemoOptions): Promise<CommandResult> {
  if (o.down) {
    await sandboxDown({ name: NAME });
    process.stdout.write('demo removed\n');
    return 'ok';
  }
  const upstream = o.upstreamExporter;
  process.stdout.write(c.bold('1/4 sandbox hosts (Debian 12, systemd, sshd) …\n'));
  const sb = await sandboxUp({ name: NAME, count: 3, prefix: 'mq', log: (l) => process.stdout.write(c.gray(`  ${l}\n`)) });
  const dir = join(sb.stateDir, 'cluster');
  mkdirSync(dir, { recursive: true });
  // This machine cannot reach GitHub: unless asked, build the bundled stand-in that speaks the exporter's flags and metrics.
  const exporter = upstream ? undefined : await makeExporterGitRepo(join(dir, 'exporter-src'));
  const hosts = sb.hosts.map((h) => `        ${h.name}: {}`).join('\n');
  const inventory = join(dir, 'hosts.yaml');
  writeFileSync(
    inventory,
    `# provision demo: 3 brokers, HAProxy on the same hosts (active-passive).
all:
  vars:
    cluster_mode: active-passive
    mqtt_roles:
      - rolename: demo
        acls:
          - { acltype: publishClientSend, topic: "demo/#" }
          - { acltype: publishClientReceive, topic: "demo/#" }
          - { acltype: subscribePattern, topic: "demo/#" }
    mqtt_users:
      - username: demo
        password: "{{ lookup('file', 'secrets/demo_password') }}"
        roles: [demo]
${exporter ? `    exporter_repo_url: ${exporter.url}\n    exporter_ref: ${exporter.ref}\n` : ''}  children:
    brokers:
      hosts:
${hosts}
    loadbalancers:
      hosts:
${hosts}
`,
  );
  mkdirSync(join(dir, 'secrets'), { recursive: true, mode: 0o700 });
  const pw = join(dir, 'secrets', 'demo_password');
  const { existsSync } = await import('node:fs');
  if (!existsSync(pw)) writeFileSync(pw, `${(await import('node:crypto')).randomBytes(12).toString('base64url')}\n`, { mode: 0o600 });

  process.stdout.write(c.bold('\n2/4 provision (build → configure → runtime → cluster) …\n'));
  // The cluster inventory first: pki/ and secrets/ live beside it.
  const invArgs = [inventory, sb.inventoryPath];
  const ran = await runCommand(runOptions({ inventories: invArgs }));
  if (ran !== 'ok') return ran;
  process.stdout.write(c.bold('\n3/4 provision verify …\n'));
  const verified = await verifyCommand(verifyOptions({ inventories: invArgs }));
  // The lines printed below need the Mosquitto clients on this machine.
  await installDebianPackages(['mosquitto-clients'], { log: (l) => process.stdout.write(c.gray(`  ${l}\n`)) });
  const first = sb.hosts[0]!;
  const ca = join(dir, 'pki', 'ca.crt');
  process.stdout.write(`${c.bold('\n4/4 ready')}
  endpoint   mqtts://${first.address}:8883 (any of ${sb.hosts.map((h) => h.address).join(', ')})
  CA         ${ca}
  inventory  ${invArgs.join(' + ')}

  mosquitto_sub -h ${first.address} -p 8883 --cafile ${ca} -u demo -P "$(cat ${pw})" -t 'demo/#' -v
  mosquitto_pub -h ${first.address} -p 8883 --cafile ${ca} -u demo -P "$(cat ${pw})" -t demo/hello -m 'hello cluster'

  remove it with: npm run demo -- down
`);
  return verified;
}
