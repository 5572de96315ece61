import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseExtraVars } from '../../../src/inventory/extra-vars.js';
import { InputError, OptionsError } from '../../../src/errors.js';
import { loadInventory } from '../../../src/inventory/load.js';
import { UnresolvedVar } from '../../../src/inventory/markers.js';
import { loadVaultKeyring } from '../../../src/inventory/vault-secrets.js';
import { VaultKeyring } from '../../../src/inventory/vault.js';
import { MASK, isSecret, redact } from '../../../src/secrets.js';

/** Files encrypted by the real ansible-vault (Debian's ansible-core 2.14) when they were committed. */
const FIX = path.resolve('test/fixtures/vault');

function tmp(): string {
  return mkdtempSync(path.join(os.tmpdir(), 'provision-vault-'));
}

function write(dir: string, files: Record<string, string>): void {
  for (const [rel, content] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    writeFileSync(path.join(dir, rel), content);
  }
}

/** The real ansible-vault, run now. */
function ansibleVault(args: string[], cwd: string): string {
  return execFileSync('ansible-vault', args, { cwd, encoding: 'utf8', env: { ...process.env, ANSIBLE_NOCOLOR: '1' } });
}

async function inputError(p: Promise<unknown>): Promise<InputError> {
  const e = await p.then(() => undefined, (err: unknown) => err);
  expect(e).toBeInstanceOf(InputError);
  return e as InputError;
}

const pwFile = (dir: string, name: string, pw: string) => {
  writeFileSync(path.join(dir, name), `${pw}\n`);
  return path.join(dir, name);
};

describe('Ansible Vault: values encrypted by the real ansible-vault', () => {
  it('decrypts an inline !vault value (format 1.1, encrypt_string) into a masked Secret', async () => {
    const dir = tmp();
    const pw = pwFile(dir, 'pw', 'Inline-Vault-Pw');
    const inline = ansibleVault(['encrypt_string', '--vault-password-file', pw, 'Plant-A-Secret-77', '--name', 'plant_password'], dir);
    write(dir, { 'hosts.yml': `all:\n  hosts:\n    mq1:\n  vars:\n    ${inline.trim().split('\n').join('\n    ')}\n` });
    const inv = await loadInventory([path.join(dir, 'hosts.yml')], { env: {}, vault: await loadVaultKeyring({ passwordFiles: [pw], env: {} }) });
    const v = inv.hosts.get('mq1')!.vars.plant_password;
    expect(isSecret(v) && v.reveal()).toBe('Plant-A-Secret-77');
    expect(redact('user typed Plant-A-Secret-77 here')).toBe(`user typed ${MASK} here`);
    expect(JSON.stringify(inv.hosts.get('mq1')!.vars)).not.toContain('Plant-A-Secret-77');
  });

  it('decrypts whole encrypted inventory, group_vars and host_vars files, with a vault id (format 1.2)', async () => {
    const dir = tmp();
    const pw = pwFile(dir, 'prod.pw', 'Prod-Vault-Pw');
    write(dir, {
      'inv/hosts.yml': 'all:\n  children:\n    brokers:\n      hosts:\n        mq1:\n        mq2:\n',
      'inv/group_vars/brokers.yml': 'broker_listen_port: 8883\nbroker_label: from-group-vars\n',
      'inv/host_vars/mq2.yml': 'ansible_host: 192.0.2.12\n',
    });
    for (const f of ['inv/hosts.yml', 'inv/group_vars/brokers.yml', 'inv/host_vars/mq2.yml']) {
      ansibleVault(['encrypt', '--vault-id', `prod@${pw}`, '--encrypt-vault-id', 'prod', f], dir);
      expect(readFileSync(path.join(dir, f), 'utf8')).toMatch(/^\$ANSIBLE_VAULT;1\.2;AES256;prod\n/);
    }
    const vault = await loadVaultKeyring({ vaultIds: [`prod@${pw}`], env: {} });
    const inv = await loadInventory([path.join(dir, 'inv/hosts.yml')], { env: {}, vault });
    expect(inv.groups.get('brokers')!.hosts).toEqual(['mq1', 'mq2']);
    expect(inv.hosts.get('mq1')!.vars).toMatchObject({ broker_listen_port: 8883, broker_label: 'from-group-vars' });
    expect(inv.hosts.get('mq2')!.vars.ansible_host).toBe('192.0.2.12');
    expect(redact('label from-group-vars')).toBe(`label ${MASK}`); // values of encrypted files are masked
  });

  it('reads the committed fixtures (1.1 inventory, 1.2 group_vars, inline) with ANSIBLE_VAULT_PASSWORD_FILE and --vault-id', async () => {
    const dir = tmp();
    copyFileSync(path.join(FIX, 'inventory-1.1.yml'), path.join(dir, 'hosts.yml'));
    mkdirSync(path.join(dir, 'group_vars'));
    copyFileSync(path.join(FIX, 'group-vars-1.2.yml'), path.join(dir, 'group_vars', 'all.yml'));
    write(dir, { 'host_vars/mq1.yml': readFileSync(path.join(FIX, 'inline-1.1.txt'), 'utf8') });
    const vault = await loadVaultKeyring({
      vaultIds: [`prod@${path.join(FIX, 'prod-password.txt')}`],
      env: { ANSIBLE_VAULT_PASSWORD_FILE: path.join(FIX, 'password.txt') },
    });
    const inv = await loadInventory([path.join(dir, 'hosts.yml')], { env: {}, vault });
    const vars = inv.hosts.get('mq1')!.vars;
    expect(vars.ansible_host).toBe('192.0.2.11');
    expect(vars.listen_port).toBe(8883);
    expect((vars.api_token as { reveal(): string }).reveal()).toBe('tok-from-encrypted-file');
    expect((vars.mqtt_admin_password as { reveal(): string }).reveal()).toBe('from-encrypted-group-vars');
    expect((vars.dashboard_password as { reveal(): string }).reveal()).toBe('inline-Secret-1');
  });

  it('gets the password from an executable (and passes --vault-id to *-client scripts)', async () => {
    const dir = tmp();
    const pw = pwFile(dir, 'pw', 'Script-Vault-Pw');
    write(dir, { 'secret.yml': 'token_from_script: t0k3n-script\n' });
    ansibleVault(['encrypt', '--vault-id', `ops@${pw}`, '--encrypt-vault-id', 'ops', 'secret.yml'], dir);
    write(dir, {
      'get-pw.sh': '#!/bin/sh\necho Script-Vault-Pw\n',
      'keyring-client.sh': '#!/bin/sh\n[ "$1" = --vault-id ] && [ "$2" = ops ] && echo Script-Vault-Pw\n',
    });
    chmodSync(path.join(dir, 'get-pw.sh'), 0o755);
    chmodSync(path.join(dir, 'keyring-client.sh'), 0o755);
    for (const vault of [
      await loadVaultKeyring({ passwordFiles: [path.join(dir, 'get-pw.sh')], env: {} }),
      await loadVaultKeyring({ vaultIds: [`ops@${path.join(dir, 'keyring-client.sh')}`], env: {} }),
    ]) {
      const extra = parseExtraVars([`@${path.join(dir, 'secret.yml')}`], vault);
      expect(extra.token_from_script).toBe('t0k3n-script');
    }
  });

  it('decrypts !vault values inside an -e @file into Secrets', async () => {
    const dir = tmp();
    const pw = pwFile(dir, 'pw', 'Extra-Vault-Pw');
    const inline = ansibleVault(['encrypt_string', '--vault-password-file', pw, 'extra-Secret-9', '--name', 'extra_password'], dir);
    write(dir, { 'extra.yml': inline });
    const extra = parseExtraVars([`@${path.join(dir, 'extra.yml')}`], await loadVaultKeyring({ passwordFiles: [pw], env: {} }));
    expect(isSecret(extra.extra_password) && extra.extra_password.reveal()).toBe('extra-Secret-9');
  });

  it('tries a password whose id matches the header first, then every other one (as Ansible does)', async () => {
    const dir = tmp();
    const right = pwFile(dir, 'right', 'Right-Pw');
    const wrong = pwFile(dir, 'wrong', 'Wrong-Pw');
    write(dir, { 'v.yml': 'x: 1\n' });
    ansibleVault(['encrypt', '--vault-id', `stage@${right}`, '--encrypt-vault-id', 'stage', 'v.yml'], dir);
    const text = readFileSync(path.join(dir, 'v.yml'), 'utf8');
    // The password is given under another label: Ansible still decrypts (vault_id_match is off by default).
    const vault = await loadVaultKeyring({ vaultIds: [`dev@${wrong}`, `other@${right}`], env: {} });
    expect(vault.decrypt(text, 'v.yml')).toBe('x: 1\n');
  });
});

describe('Ansible Vault: clear errors', () => {
  it('a wrong password names the file (whole file) or file:line:column and the variable (inline)', async () => {
    const dir = tmp();
    const pw = pwFile(dir, 'pw', 'Good-Pw');
    const bad = pwFile(dir, 'bad', 'Bad-Pw');
    const inline = ansibleVault(['encrypt_string', '--vault-password-file', pw, 'v', '--name', 'db_password'], dir);
    write(dir, { 'hosts.yml': `all:\n  hosts:\n    mq1:\n  vars:\n    ${inline.trim().split('\n').join('\n    ')}\n`, 'enc.yml': 'all:\n  hosts:\n    mq9:\n' });
    ansibleVault(['encrypt', '--vault-password-file', pw, 'enc.yml'], dir);
    const vault = await loadVaultKeyring({ passwordFiles: [bad], env: {} });
    const inv = await loadInventory([path.join(dir, 'hosts.yml')], { env: {}, vault }); // fails where the value is used
    const e1 = (inv.hosts.get('mq1')!.vars.db_password as UnresolvedVar).error;
    expect(e1).toBeInstanceOf(InputError);
    expect(e1.message).toBe(`${path.join(dir, 'hosts.yml')}:5:25 db_password: this value is vault-encrypted and none of the vault passwords given decrypts it (wrong password? tried default@${bad})`);
    const e2 = await inputError(loadInventory([path.join(dir, 'enc.yml')], { env: {}, vault }));
    expect(e2.message).toBe(`${path.join(dir, 'enc.yml')}: this file is vault-encrypted and none of the vault passwords given decrypts it (wrong password? tried default@${bad})`);
    expect(e2.message).not.toContain('Bad-Pw');
    const e3 = await inputError(loadInventory([path.join(dir, 'enc.yml')], { env: {} }));
    expect(e3.problem).toContain('no vault password was given (use --vault-password-file');
  });

  it('a value that is not used needs no password (decrypted only when it wins the merge)', async () => {
    const dir = tmp();
    const pw = pwFile(dir, 'pw', 'Good-Pw');
    const inline = ansibleVault(['encrypt_string', '--vault-password-file', pw, 'v', '--name', 'db_password'], dir);
    write(dir, { 'hosts.yml': `all:\n  hosts:\n    mq1:\n      db_password: plain\n  vars:\n    ${inline.trim().split('\n').join('\n    ')}\n` });
    const inv = await loadInventory([path.join(dir, 'hosts.yml')], { env: {} });
    expect((inv.hosts.get('mq1')!.vars.db_password as { reveal(): string }).reveal()).toBe('plain');
  });

  it('rejects a damaged envelope, an empty password and a failing password script', async () => {
    const k = new VaultKeyring([{ id: 'default', password: Buffer.from('x'), source: 'test' }]);
    expect(() => k.decrypt('$ANSIBLE_VAULT;1.1;AES256\nzz\n', 'f.yml', 2, 5)).toThrow(/f\.yml:2:5: this value is vault-encrypted but cannot be read: the encrypted text is not hexadecimal/);
    expect(() => k.decrypt('$ANSIBLE_VAULT;1.0;AES\n6134\n', 'f.yml')).toThrow(/unsupported vault format version '1.0'/);
    const dir = tmp();
    const empty = pwFile(dir, 'empty', '  ');
    await expect(loadVaultKeyring({ passwordFiles: [empty], env: {} })).rejects.toThrow(OptionsError);
    write(dir, { 'fail.sh': '#!/bin/sh\necho nope >&2\nexit 3\n' });
    chmodSync(path.join(dir, 'fail.sh'), 0o755);
    await expect(loadVaultKeyring({ passwordFiles: [path.join(dir, 'fail.sh')], env: {} })).rejects.toThrow(/exited with 3: nope/);
    await expect(loadVaultKeyring({ vaultIds: ['x@'], env: {} })).rejects.toThrow(/expected LABEL@SOURCE/);
  });

  it('--ask-vault-pass and --vault-id label@prompt ask with the label, and refuse without a terminal', async () => {
    const asked: string[] = [];
    const vault = await loadVaultKeyring({ askVaultPass: true, vaultIds: ['prod@prompt'], env: {}, prompt: async (q) => (asked.push(q), ' typed-pw \n') });
    expect(asked).toEqual(['Vault password (prod): ', 'Vault password: ']);
    expect(vault.size).toBe(2);
    expect(redact('typed-pw')).toBe(MASK);
    if (!process.stdin.isTTY) await expect(loadVaultKeyring({ askVaultPass: true, env: {} })).rejects.toThrow(/stdin is not a terminal/);
  });
});
