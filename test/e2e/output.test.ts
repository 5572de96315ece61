/**
 * Issue 10 items 7–12 on real hosts (sandbox l-out: a broker and a load balancer), on captured plain output:
 * a sudo failure is labelled and counted failed with the tool's own words intact; --check on bare hosts names the
 * inventory's users and says the broker is not running yet; the recap of a first run fits one screen with its
 * header; --diff of haproxy.cfg shows its lines with only the health check's CONNECT masked; verify finds the
 * exporter's metrics current.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hostShell, sandboxDown, sandboxUp, type Sandbox } from '../../src/sandbox/index.js';
import { provision, type CliResult } from '../support/cli.js';
import { makeExporterGitRepo } from '../support/exporter-fixture.js';

const NAME = 'l-out';
const ENV = { PLANT_A_PASSWORD: 'Plant-A-Pw-1' };
let sb: Sandbox;
let work: string;
let inventory: string;

const out = (r: CliResult) => `exit ${r.code}\n${r.stdout}\n${r.stderr}`;
const run = (args: string[], json?: string) => provision(['-i', inventory, '-i', sb.inventoryPath, '--known-hosts', sb.knownHostsPath, ...args], { env: ENV, ...(json ? { json: join(work, json) } : {}) });
/** The recap: from its header to the end of the output. */
const recapOf = (stdout: string) => stdout.slice(stdout.lastIndexOf('PLAY RECAP')).trimEnd().split('\n');

describe('output of a run on real hosts (issue 10 items 7-12)', () => {
  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'provision-e2e-l-out-'));
    await sandboxDown({ name: NAME });
    sb = await sandboxUp({ name: NAME, names: ['mq1', 'lb1'], count: 2 });
    const exporter = await makeExporterGitRepo(join(work, 'exporter-src'));
    inventory = join(work, 'site.yaml');
    writeFileSync(
      inventory,
      `all:
  vars:
    sys_interval: 1
    exporter_repo_url: ${exporter.url}
    exporter_ref: ${exporter.ref}
    mqtt_roles:
      - rolename: sensors
        acls:
          - { acltype: publishClientSend, topic: "sensors/#" }
    mqtt_users:
      - username: plant-a
        password: "{{ lookup('env', 'PLANT_A_PASSWORD') }}"
        roles: [sensors]
  children:
    brokers:
      hosts:
        mq1: {}
    loadbalancers:
      hosts:
        lb1: {}
`,
    );
    // A sudo user whose password is not the one the next inventory gives.
    await hostShell(NAME, 'mq1', "id admin >/dev/null 2>&1 || useradd -m -s /bin/bash admin; echo 'admin:Adm1n-Sudo-Pw' | chpasswd; mkdir -p ~admin/.ssh; cp /root/.ssh/authorized_keys ~admin/.ssh/; chown -R admin: ~admin/.ssh; echo 'admin ALL=(ALL) ALL' > /etc/sudoers.d/admin");
  }, 300_000);
  afterAll(async () => {
    await sandboxDown({ name: NAME });
  });

  it('10: a refused become password is "failed" (label, count, exit 2), in the tool\'s own words, no internals', async () => {
    const ini = join(work, 'sudo.ini');
    const mq1 = sb.hosts.find((h) => h.name === 'mq1')!;
    writeFileSync(ini, `[brokers]\nmq1 ansible_host=${mq1.address}\n\n[all:vars]\nansible_user=admin\nansible_ssh_private_key_file=${sb.keyPath}\nansible_become=true\nansible_become_password=wrong\n`);
    const r = await provision(['-i', ini, '--known-hosts', sb.knownHostsPath, '--check'], { env: ENV });
    const text = r.stdout + r.stderr;
    expect(r.code, out(r)).toBe(2);
    expect(text).toContain('failed: [mq1] become (sudo) failed: sudo refused the become password (wrong ansible_become_password?)');
    expect(text).toMatch(/^mq1\s+: ok=0\s+changed=0\s+unreachable=0\s+failed=1\s/m);
    expect(text).not.toMatch(/unreachable: \[mq1\]|sh -c 'eval|\[mq1\] \[mq1\]|\*{8} ansible_become_password/);
  });

  it('11 and 7: --check on bare hosts names the inventory\'s users, says the broker is not running yet; the recap points at no --json', async () => {
    const r = await run(['--check']);
    expect(r.code, out(r)).toBe(0);
    expect(r.stdout).toContain("the broker is not running yet (this run starts it): would create user(s) plant-a, role(s) sensors and provision's own accounts");
    expect(r.stdout).not.toMatch(/provision-(exporter|verify)/);
    const recap = recapOf(r.stdout);
    expect(recap[0]).toMatch(/^PLAY RECAP \*+$/);
    expect(recap.join('\n')).not.toContain('--json');
  });

  it('7: the first run\'s recap fits one screen, whole, the important changes first', async () => {
    const r = await run([], 'first.json');
    expect(r.code, out(r)).toBe(0);
    const recap = recapOf(r.stdout);
    expect(recap.length, recap.join('\n')).toBeLessThanOrEqual(30);
    expect(recap.filter((l) => /^(mq1|lb1)\s+: ok=/.test(l))).toHaveLength(2);
    const lb = recap.slice(recap.indexOf('  lb1'));
    expect(lb[1]).toBe('    haproxy (handler): reload haproxy');
    expect(recap.join('\n')).not.toContain('sh -c');
  });

  it('8: --diff of haproxy.cfg shows the changed lines, the health check CONNECT masked', async () => {
    const r = await run(['--check', '--diff', '--limit', 'lb1', '-e', 'max_keepalive=120']);
    expect(r.code, out(r)).toBe(0);
    const at = r.stdout.indexOf('--- before: /etc/haproxy/haproxy.cfg');
    expect(at, out(r)).toBeGreaterThanOrEqual(0);
    const diff = r.stdout.slice(at, r.stdout.indexOf('\n\n', at) > 0 ? r.stdout.indexOf('\n\n', at) : undefined);
    expect(diff).toMatch(/^-\s+timeout client \d+s$/m);
    expect(diff).toMatch(/^\+\s+timeout client 210s$/m);
    expect(diff).not.toContain('(sensitive content changed)');
    expect(diff).not.toMatch(/tcp-check send-binary 10[0-9a-f]+/); // the CONNECT bytes (with the password) never in clear
  });

  it('12: verify finds the exporter\'s metrics current (broker_uptime increases)', async () => {
    const r = await provision(['verify', '-i', inventory, '-i', sb.inventoryPath, '--known-hosts', sb.knownHostsPath], { env: ENV });
    expect(r.stdout, out(r)).toMatch(/✔ exporter metrics on mq1 are current — broker_uptime \d+ → \d+ s/);
  });
});
