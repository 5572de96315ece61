/**
 * Issue 10 "done when" (items 1–6): a new user's walk-through on real hosts — an INI inventory, a sudo user — where
 * each common mistake gets its exit code and message before any host is touched, and nothing is changed on them.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hostShell, sandboxDown, sandboxUp, type Sandbox } from '../../src/sandbox/index.js';
import { provision } from '../support/cli.js';

const NAME = 'k-walk';
let sb: Sandbox;
let work: string;
const sh = async (host: string, cmd: string) => (await hostShell(sb.name, host, cmd)).stdout.trim();

/** The new user's inventory: INI, group_vars/, a sudo user whose password comes from the environment. */
function inventory(o: { brokersGroup?: string; become?: boolean; role?: string; vip?: string } = {}): string {
  const dir = mkdtempSync(join(work, 'inv-'));
  const [mq1, mq2] = sb.hosts;
  writeFileSync(
    join(dir, 'hosts.ini'),
    `[${o.brokersGroup ?? 'brokers'}]\nmq1 ansible_host=${mq1!.address}\nmq2 ansible_host=${mq2!.address}\n\n[all:vars]\n` +
      `ansible_user=admin\nansible_ssh_private_key_file=${sb.keyPath}\n${o.become === false ? '' : 'ansible_become=true\n'}` +
      `ansible_become_password="{{ lookup('env', 'SUDO_PASSWORD') }}"\npersistence=true\n`,
  );
  mkdirSync(join(dir, 'group_vars'));
  writeFileSync(
    join(dir, 'group_vars', 'all.yaml'),
    `mqtt_roles:\n  - rolename: sensors\nmqtt_users:\n  - username: plant-a\n    password: "{{ lookup('env', 'PLANT_A_PASSWORD') }}"\n    roles: [${o.role ?? 'sensors'}]\n` +
      (o.vip ? `cluster_vip: ${o.vip}\n` : ''),
  );
  return join(dir, 'hosts.ini');
}

const ENV = { SUDO_PASSWORD: 'Adm1n-Sudo-Pw', PLANT_A_PASSWORD: 'Plant-A-Pw-1' };
const common = (inv: string) => ['-i', inv, '--known-hosts', sb.knownHostsPath, '--check'];

describe('first contact: every common mistake caught before a host is touched', () => {
  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'provision-e2e-k-walk-'));
    sb = await sandboxUp({ name: NAME, names: ['mq1', 'mq2'], count: 2 });
    for (const h of ['mq1', 'mq2'])
      await sh(h, "id admin >/dev/null 2>&1 || useradd -m -s /bin/bash admin; echo 'admin:Adm1n-Sudo-Pw' | chpasswd; mkdir -p ~admin/.ssh; cp /root/.ssh/authorized_keys ~admin/.ssh/; chown -R admin: ~admin/.ssh; echo 'admin ALL=(ALL) ALL' > /etc/sudoers.d/admin");
  }, 300_000);
  afterAll(async () => {
    await sandboxDown({ name: NAME });
  });

  it('the good inventory passes --syntax-check (INI persistence=true is a boolean)', async () => {
    const r = await provision(['-i', inventory(), '--syntax-check'], { env: ENV });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain('no problems found');
  });

  it('each mistake: its exit code and message', async () => {
    const cases: { args: string[]; env?: NodeJS.ProcessEnv; code: number; message: RegExp }[] = [
      { args: common(inventory({ become: false })), code: 4, message: /hosts\.ini:6:\d+ ansible_user: connecting as 'admin' \(not root\) without become: .*set ansible_become: true \(or connect as root\) \(hosts mq1, mq2\)/ },
      { args: common(inventory({ role: 'sensorz' })), code: 4, message: /group_vars\/all\.yaml:6:\d+ mqtt_users\[0\]\.roles\[0\]: role 'sensorz' is not declared in mqtt_roles — did you mean 'sensors'\?/ },
      { args: common(inventory({ vip: '999.1.1.1/24' })), code: 4, message: /all\.yaml:7:\d+ cluster_vip: expected an IPv4 address with its prefix length/ },
      { args: common(inventory({ brokersGroup: 'mqtt_brokers' })), code: 4, message: /on group 'brokers', which the inventory does not have \(its groups: mqtt_brokers\) — did you mean 'mqtt_brokers'\?/ },
      { args: [...common(inventory()), '--becom'], code: 5, message: /^provision: unknown option '--becom' — did you mean '--become'\? \(see provision --help\)$/m },
      { args: common(inventory()), env: {}, code: 4, message: /2 environment variables the inventory reads are not set:\n  SUDO_PASSWORD \(.*hosts\.ini:9:\d+\)\n  PLANT_A_PASSWORD \(.*all\.yaml:5:\d+\)/ },
    ];
    for (const c of cases) {
      const r = await provision(c.args, { env: { ...(c.env ?? ENV) } });
      const out = r.stdout + r.stderr;
      expect(r.code, out).toBe(c.code);
      expect(out).toMatch(c.message);
      expect(out).not.toContain('CONNECT');
      expect(out).not.toContain('Adm1n-Sudo-Pw');
    }
  });

  it('-b fixes the forgotten become; --list-hosts runs without the environment variables', async () => {
    const fixed = await provision(['-i', inventory({ become: false }), '-b', '--syntax-check'], { env: ENV });
    expect(fixed.code, fixed.stdout + fixed.stderr).toBe(0);
    const list = await provision(['-i', inventory(), '--list-hosts'], { env: {} });
    expect(list.code, list.stdout + list.stderr).toBe(0);
    expect(list.stdout).toContain('mq2');
  });

  it('nothing was touched on any host', async () => {
    for (const h of ['mq1', 'mq2']) {
      expect(await sh(h, 'test -e /etc/mosquitto && echo yes || echo no')).toBe('no');
      expect(await sh(h, 'ls /var/lib/apt/lists | grep -c _Packages || true')).toBe('0');
    }
  });
});
