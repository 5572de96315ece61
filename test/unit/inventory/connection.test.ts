import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { InputError } from '../../../src/errors.js';
import { connectionSpecFor } from '../../../src/inventory/connection.js';
import { loadInventory } from '../../../src/inventory/load.js';
import { MASK, isSecret } from '../../../src/secrets.js';

const ENV = { HOME: '/home/tester' };

async function spec(text: string, file = 'hosts.yml', host?: string) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'provision-conn-'));
  const p = path.join(dir, file);
  writeFileSync(p, text);
  const inv = await loadInventory([p], { env: {} });
  return { spec: () => connectionSpecFor(inv.hosts.get(host ?? inv.hostOrder[0])!, p, ENV), file: p };
}

const yaml = (vars: string) => `all:\n  hosts:\n    mq1:\n${vars.replace(/^/gm, '      ')}\n`;

describe('connectionSpecFor', () => {
  it('defaults like Ansible', async () => {
    const { spec: s } = await spec('mq1.example.com\n', 'hosts');
    expect(s()).toEqual({
      host: 'mq1.example.com', address: 'mq1.example.com', port: 22, user: os.userInfo().username,
      become: false, becomeUser: 'root', connectTimeoutMs: 10_000,
    });
  });

  it('reads the ansible_* connection variables (INI strings included)', async () => {
    const { spec: s } = await spec(
      'mq1 ansible_host=10.0.0.5 ansible_port=2222 ansible_user=deploy ansible_ssh_private_key_file=~/.ssh/id_ed25519 ansible_become=yes ansible_become_user=mosquitto ansible_become_pass=s3cr3t-pw ansible_timeout=30 provision_known_hosts_file=~/kh\n',
      'hosts',
    );
    const c = s();
    expect(c).toMatchObject({
      address: '10.0.0.5', port: 2222, user: 'deploy', privateKeyPath: '/home/tester/.ssh/id_ed25519', become: true,
      becomeUser: 'mosquitto', connectTimeoutMs: 30_000, knownHostsFile: '/home/tester/kh',
    });
    expect(isSecret(c.becomePassword)).toBe(true);
    expect(String(c.becomePassword)).toBe(MASK);
    expect(c.becomePassword!.reveal()).toBe('s3cr3t-pw');
  });

  it('parses ProxyJump from ansible_ssh_common_args / extra args, and -J', async () => {
    const a = await spec(yaml('ansible_ssh_common_args: "-o StrictHostKeyChecking=no -o ProxyJump=jumper@bastion.example.com:2200"\nansible_ssh_private_key_file: /keys/k'));
    expect(a.spec().jump).toEqual({ address: 'bastion.example.com', port: 2200, user: 'jumper', privateKeyPath: '/keys/k' });
    const b = await spec(yaml("ansible_ssh_extra_args: \"-o 'ProxyJump ops@[2001:db8::1]'\""));
    expect(b.spec().jump).toEqual({ address: '2001:db8::1', port: 22, user: 'ops' });
    const c = await spec(yaml('ansible_ssh_common_args: -J bastion'));
    expect(c.spec().jump).toEqual({ address: 'bastion', port: 22, user: os.userInfo().username });
  });

  it('understands the classic ProxyCommand="ssh -W %h:%p" bastion recipe', async () => {
    const { spec: s } = await spec(yaml(`ansible_ssh_common_args: '-o ProxyCommand="ssh -W %h:%p -q -p 2022 ops@bastion"'`));
    expect(s().jump).toEqual({ address: 'bastion', port: 2022, user: 'ops' });
  });

  it('prefers an explicit provision_jump_host', async () => {
    const { spec: s } = await spec(yaml('provision_jump_host: admin@10.0.0.1:2201\nansible_ssh_common_args: -o ProxyJump=other'));
    expect(s().jump).toEqual({ address: '10.0.0.1', port: 2201, user: 'admin' });
  });

  it('gives the later Ansible alias precedence (ansible_ssh_timeout over ansible_timeout)', async () => {
    const { spec: s } = await spec(yaml('ansible_timeout: 30\nansible_ssh_timeout: 5'));
    expect(s().connectTimeoutMs).toBe(5000);
  });

  it.each([
    ['ansible_port: abc', 'ansible_port', 'expected a port from 1 to 65535, got string "abc"'],
    ['ansible_port: 70000', 'ansible_port', 'expected a port from 1 to 65535'],
    ['ansible_become: maybe', 'ansible_become', 'expected a boolean'],
    ['ansible_user: [a, b]', 'ansible_user', 'expected a non-empty string, got a list'],
    ['ansible_timeout: -1', 'ansible_timeout', 'expected a timeout in seconds'],
    ['provision_jump_host: "a@b:1,c@d:2"', 'provision_jump_host', 'only one jump host is supported'],
    ['ansible_ssh_common_args: -o ProxyJump=a@b:x', 'ansible_ssh_common_args', 'expected a jump host as user@host:port'],
    ['ansible_connection: local', 'ansible_connection', "connection 'local' is not supported"],
  ])('%s → InputError at the value', async (vars, name, fragment) => {
    const { spec: s, file } = await spec(yaml(vars));
    let err: unknown;
    try {
      s();
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(InputError);
    const e = err as InputError;
    expect([e.file, e.line, e.path]).toEqual([file, 4, name]);
    expect(e.column).toBe(9 + name.length); // 6 spaces of indent, the name, ": "
    expect(e.problem).toContain(fragment);
  });
});
