/**
 * Issue 10 item 6: every unset environment variable the inventory reads is named in one error, with where it is read;
 * listings run without them; `{ from_env: X }` works in `-e @file.yaml` as in the inventory.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadExtraVars } from '../../../src/inventory/extra-vars.js';
import { exitCodeForError } from '../../../src/cli/exit-codes.js';
import { InputError } from '../../../src/errors.js';
import { loadInventory } from '../../../src/inventory/load.js';
import { Secret } from '../../../src/secrets.js';

const tmp = mkdtempSync(join(tmpdir(), 'provision-env-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function write(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmp, 'inv-'));
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, name)), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
  return dir;
}

const FILES = {
  'hosts.ini': "[brokers]\nmq1\nmq2\n\n[all:vars]\nansible_become_password=\"{{ lookup('env', 'SUDO_PASSWORD') }}\"\n",
  'group_vars/all.yaml': "mqtt_users:\n  - username: a\n    password: \"{{ lookup('env', 'PLANT_A_PASSWORD') }}\"\n  - username: b\n    password: { from_env: PLANT_B_PASSWORD }\n",
};

describe('unset environment variables', () => {
  it('are all reported in one error, each with where it is read (exit 4)', async () => {
    const dir = write(FILES);
    let err: unknown;
    try {
      await loadInventory([join(dir, 'hosts.ini')], { env: { PLANT_A_PASSWORD: 'x' } });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(InputError);
    expect(exitCodeForError(err)).toBe(4);
    const msg = (err as Error).message;
    expect(msg).toContain('2 environment variables the inventory reads are not set:');
    expect(msg).toContain(`SUDO_PASSWORD (${join(dir, 'hosts.ini')}:6:`);
    expect(msg).toContain(`PLANT_B_PASSWORD (${join(dir, 'group_vars/all.yaml')}:5:`);
    expect(msg).not.toContain('PLANT_A_PASSWORD');
  });

  it('are read as placeholders when asked (listings), so that --list-hosts/--list-tasks run without them', async () => {
    const dir = write(FILES);
    const inv = await loadInventory([join(dir, 'hosts.ini')], { env: {}, missingEnv: 'placeholder' });
    expect(inv.hostOrder).toEqual(['mq1', 'mq2']);
    const pw = inv.hosts.get('mq1')!.vars.ansible_become_password;
    expect(pw).toBeInstanceOf(Secret);
    expect((pw as Secret).reveal()).toBe('(SUDO_PASSWORD not set)');
  });
});

describe('-e @file.yaml', () => {
  it('{ from_env: X } and lookups become secrets, as in the inventory; later -e items win', async () => {
    const dir = write({ 'hosts.ini': '[brokers]\nmq1\n', 'extra.yaml': 'mqtt_admin_password: { from_env: ADMIN_PW }\npersistence: no\nmax_keepalive: 30\n' });
    const extra = await loadExtraVars([`@${join(dir, 'extra.yaml')}`, 'max_keepalive=45']);
    const inv = await loadInventory([join(dir, 'hosts.ini')], { env: { ADMIN_PW: 's3cret' }, extraVars: extra });
    const v = inv.hosts.get('mq1')!.vars;
    expect(v.mqtt_admin_password).toBeInstanceOf(Secret);
    expect((v.mqtt_admin_password as Secret).reveal()).toBe('s3cret');
    expect(v.persistence).toBe(false);
    expect(v.max_keepalive).toBe(45);
  });

  it('an unset one is reported with the -e file\'s line', async () => {
    const dir = write({ 'hosts.ini': '[brokers]\nmq1\n', 'extra.yaml': 'a: 1\nmqtt_admin_password: { from_env: ADMIN_PW }\n' });
    const extra = await loadExtraVars([`@${join(dir, 'extra.yaml')}`]);
    await expect(loadInventory([join(dir, 'hosts.ini')], { env: {}, extraVars: extra })).rejects.toThrow(`${join(dir, 'extra.yaml')}:2:34: environment variable ADMIN_PW is not set`);
  });
});
