import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { findAnsibleCfg, readAnsibleCfg } from '../../../src/cli/ansible-cfg.js';
import { parseRunOptions } from '../../../src/cli/options.js';
import { InputError, OptionsError } from '../../../src/errors.js';
import { connectionSpecFor } from '../../../src/inventory/connection.js';
import { loadInventory } from '../../../src/inventory/load.js';
import { provision } from '../../support/cli.js';

/** The ansible-playbook flags and ansible.cfg keys users bring. */
function tmp(files: Record<string, string>): string {
  const d = mkdtempSync(path.join(os.tmpdir(), 'f-flags-'));
  for (const [name, text] of Object.entries(files)) writeFileSync(path.join(d, name), text);
  return d;
}

function thrown(f: () => unknown): unknown {
  try {
    f();
  } catch (e) {
    return e;
  }
  return undefined;
}

describe('ansible-playbook flags', () => {
  it('-u, --private-key, -b, --become-user, --ssh-common-args, -T become connection defaults', () => {
    const o = parseRunOptions(['-i', 'h', '-u', 'deploy', '--private-key', '~/.ssh/k', '-b', '--become-user', 'mosq', '--ssh-common-args', '-o ProxyJump=bastion', '-T', '25', '--flush-cache']);
    expect(o.connection).toEqual({ user: 'deploy', privateKeyFile: '~/.ssh/k', become: true, becomeUser: 'mosq', sshCommonArgs: '-o ProxyJump=bastion', timeoutSeconds: 25 });
    expect(parseRunOptions(['-i', 'h', '-K', '--syntax-check'])).toMatchObject({ askBecomePass: true, syntaxCheck: true });
  });

  it('flags without meaning here are refused, saying what to use', () => {
    for (const [args, what] of [[['--start-at-task', 'x'], /--start-at-task is not supported: .*--tags or --phase/], [['--step'], /--step is not supported: .*--check --diff/], [['-T', '0'], /-T\/--timeout takes whole seconds/], [['--ssh-common-args', '"open'], /--ssh-common-args: /]] as const) {
      const e = thrown(() => parseRunOptions(['-i', 'h', ...args]));
      expect(e).toBeInstanceOf(OptionsError);
      expect((e as Error).message).toMatch(what);
    }
  });

  it("a host's connection variables beat the flags; the flags fill in what a host leaves unset", async () => {
    const d = tmp({ 'hosts.yml': 'all:\n  hosts:\n    mq1:\n      ansible_user: admin\n      ansible_become: false\n    mq2:\n' });
    const inv = await loadInventory([path.join(d, 'hosts.yml')], { env: {} });
    const defaults = { user: 'deploy', become: true, becomeUser: 'mosq', timeoutSeconds: 25, sshCommonArgs: '-o ProxyJump=ops@bastion:2222' };
    const mq1 = connectionSpecFor(inv.hosts.get('mq1')!, d, { HOME: '/home/x' }, defaults);
    const mq2 = connectionSpecFor(inv.hosts.get('mq2')!, d, { HOME: '/home/x' }, defaults);
    expect(mq1).toMatchObject({ user: 'admin', become: false, becomeUser: 'mosq', connectTimeoutMs: 25_000 });
    expect(mq2).toMatchObject({ user: 'deploy', become: true, jump: { address: 'bastion', port: 2222, user: 'ops' } });
  });
});

describe('provision exec (options; the runs themselves: test/e2e/exec.test.ts)', () => {
  it('needs one pattern and a command after --, each refused with exit 5 before anything is read', async () => {
    const none = await provision(['exec', '-i', 'nosuch.yml', '--', 'uptime']);
    expect({ code: none.code, err: none.stderr }).toMatchObject({ code: 5, err: expect.stringContaining('needs one PATTERN') });
    const empty = await provision(['exec', 'all', '-i', 'nosuch.yml', '--']);
    expect({ code: empty.code, err: empty.stderr }).toMatchObject({ code: 5, err: expect.stringContaining("needs a COMMAND after '--'") });
  });
});

describe('ansible.cfg', () => {
  const CFG = [
    '# comment', '[defaults]', 'inventory = inv/hosts.yml, more.ini', 'remote_user = deploy', 'private_key_file = keys/id_ed25519',
    'host_key_checking = False', 'forks = 3 ; inline comment', 'timeout: 20', 'gathering = smart', 'stdout_callback = yaml',
    '[privilege_escalation]', 'become = True', 'become_user = root', '[ssh_connection]', 'pipelining = True', '',
  ].join('\n');

  it('reads inventory, remote_user, private_key_file, host_key_checking, forks, timeout, become(_user); lists the rest', () => {
    const d = tmp({ 'ansible.cfg': CFG });
    const cfg = readAnsibleCfg(path.join(d, 'ansible.cfg'), { HOME: '/home/x' });
    expect(cfg).toEqual({
      file: path.join(d, 'ansible.cfg'), inventory: [path.join(d, 'inv/hosts.yml'), path.join(d, 'more.ini')], remoteUser: 'deploy',
      privateKeyFile: path.join(d, 'keys/id_ed25519'), hostKeyChecking: false, forks: 3, timeout: 20, become: true, becomeUser: 'root',
      ignored: ['defaults.gathering', 'defaults.stdout_callback', 'ssh_connection.pipelining'],
    });
    const o = parseRunOptions([], cfg);
    expect(o).toMatchObject({ inventories: cfg.inventory, forks: 3, acceptNewHostKeys: true, connection: { user: 'deploy', become: true, timeoutSeconds: 20 } });
    // The command line beats ansible.cfg, as in Ansible.
    expect(parseRunOptions(['-i', 'other.yml', '-f', '7', '-u', 'me', '-T', '5'], cfg)).toMatchObject({ inventories: ['other.yml'], forks: 7, connection: { user: 'me', timeoutSeconds: 5 } });
  });

  it('is found as Ansible finds it: ANSIBLE_CONFIG (a file or a directory), then ./ansible.cfg, then ~/.ansible.cfg', () => {
    const d = tmp({ 'ansible.cfg': '[defaults]\n', '.ansible.cfg': '[defaults]\n' });
    const empty = tmp({});
    expect(findAnsibleCfg({ ANSIBLE_CONFIG: path.join(d, 'ansible.cfg'), HOME: empty }, empty)).toBe(path.join(d, 'ansible.cfg'));
    expect(findAnsibleCfg({ ANSIBLE_CONFIG: d, HOME: empty }, empty)).toBe(path.join(d, 'ansible.cfg'));
    expect(findAnsibleCfg({ HOME: empty }, d)).toBe(path.join(d, 'ansible.cfg'));
    expect(findAnsibleCfg({ HOME: d }, empty)).toBe(path.join(d, '.ansible.cfg'));
  });

  it('a bad value names file, line and key', () => {
    const d = tmp({ 'ansible.cfg': '[defaults]\nforks = many\n' });
    const e = thrown(() => readAnsibleCfg(path.join(d, 'ansible.cfg')));
    expect(e).toBeInstanceOf(InputError);
    expect((e as Error).message).toMatch(new RegExp(`^${path.join(d, 'ansible.cfg')}:2.*defaults\\.forks must be a whole number`));
  });

  it('the real CLI uses [defaults] inventory from ANSIBLE_CONFIG and --syntax-check contacts nothing', async () => {
    const d = tmp({ 'ansible.cfg': '[defaults]\ninventory = hosts.yml\nnosuch_key = 1\n', 'hosts.yml': 'all:\n  children:\n    brokers:\n      hosts:\n        mq1:\n          ansible_host: 10.77.255.254\n' });
    const r = await provision(['--syntax-check', '-v'], { env: { ANSIBLE_CONFIG: path.join(d, 'ansible.cfg') } });
    expect(r.stderr).toContain(`using ${path.join(d, 'ansible.cfg')}; ignoring keys provision does not read: defaults.nosuch_key`);
    expect({ code: r.code, out: r.stdout }).toMatchObject({ code: 0, out: expect.stringMatching(/playbook: .*site\.yaml/) });
  });
});
