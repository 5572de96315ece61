/**
 * Issue 10 items 2 and 5: a connection that would not run as root is refused before any host is touched (exit 4,
 * at the variable, with the fix), and ansible-playbook's -u/-b/--become-user/--private-key fill in what the
 * inventory leaves unset (its variables win, as in Ansible).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { exitCodeForError } from '../../../src/cli/exit-codes.js';
import { InputError } from '../../../src/errors.js';
import { checkConnections } from '../../../src/inventory/connection-checks.js';
import { connectionSpecFor, type ConnectionDefaults } from '../../../src/inventory/connection.js';
import { loadInventory } from '../../../src/inventory/load.js';

const tmp = mkdtempSync(join(tmpdir(), 'provision-conn-checks-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const ENV = { HOME: '/home/tester' };

async function checked(ini: string, defaults: ConnectionDefaults = {}) {
  const file = join(tmp, `hosts-${Math.random().toString(36).slice(2)}.ini`);
  writeFileSync(file, ini);
  const inv = await loadInventory([file], { env: {} });
  return { file, run: () => checkConnections(inv, inv.hostOrder, (h) => connectionSpecFor(h, file, ENV, defaults)) };
}

function failure(fn: () => unknown): InputError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(InputError);
    expect(exitCodeForError(e)).toBe(4);
    return e as InputError;
  }
  throw new Error('expected an error');
}

const SUDO_USER = '[brokers]\nmq1 ansible_host=10.0.0.1\nmq2 ansible_host=10.0.0.2\n\n[all:vars]\nansible_user=admin\n';

describe('checkConnections', () => {
  it('a sudo user without become: exit 4 at ansible_user, once for all hosts, saying "set ansible_become: true (or connect as root)"', async () => {
    const { file, run } = await checked(SUDO_USER);
    const e = failure(run);
    expect(e.message).toBe(`${file}:6:14 ansible_user: connecting as 'admin' (not root) without become: provision needs root on the hosts — set ansible_become: true (or connect as root) (hosts mq1, mq2)`);
  });

  it('become, root, or -b where the inventory says nothing: accepted', async () => {
    expect((await checked(`${SUDO_USER}ansible_become=true\n`)).run().get('mq1')).toMatchObject({ user: 'admin', become: true, becomeUser: 'root' });
    expect((await checked('[brokers]\nmq1 ansible_user=root\n')).run().get('mq1')).toMatchObject({ user: 'root', become: false });
    expect((await checked(SUDO_USER, { become: true })).run().get('mq2')).toMatchObject({ become: true });
  });

  it('a become_user other than root is refused with its fix', async () => {
    const e = failure((await checked(`${SUDO_USER}ansible_become=yes\nansible_become_user=postgres\n`)).run);
    expect(e.problem).toContain("become_user 'postgres' is not root");
    expect(e.path).toBe('ansible_become_user');
  });

  it('wrong connection variables of several hosts are reported together', async () => {
    const e = failure((await checked('[brokers]\nmq1 ansible_user=root ansible_port=0\nmq2 ansible_user=root ansible_port=99999\n')).run);
    expect(e.message).toContain('ansible_port: expected a port from 1 to 65535, got number 0 (host mq1)');
    expect(e.message).toContain('also:');
    expect(e.message).toContain('got number 99999 (host mq2)');
  });
});

describe('command-line connection defaults (-u, -b, --become-user, --private-key)', () => {
  it('fill in what the inventory leaves unset; the inventory\'s variables win', async () => {
    const d: ConnectionDefaults = { user: 'deploy', become: true, becomeUser: 'root', privateKeyFile: '~/.ssh/deploy' };
    const bare = (await checked('[brokers]\nmq1\n', d)).run().get('mq1')!;
    expect(bare).toMatchObject({ user: 'deploy', become: true, becomeUser: 'root', privateKeyPath: '/home/tester/.ssh/deploy' });
    const set = (await checked('[brokers]\nmq1 ansible_user=root ansible_become=false ansible_ssh_private_key_file=/k\n', d)).run().get('mq1')!;
    expect(set).toMatchObject({ user: 'root', become: false, privateKeyPath: '/k' });
  });
});
