import { chmodSync, copyFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UnreachableError } from '../../../src/errors.js';
import { privateKeyFileProblem } from '../../../src/transport/private-key.js';
import { SshTransport } from '../../../src/transport/ssh.js';
import { provision } from '../../support/cli.js';
import { startFaultServer, type FaultServer } from '../../support/fault-servers.js';
import { startLoopbackSshd, type LoopbackSshd } from '../../support/loopback-sshd.js';

// OpenSSH refuses a private key its owner lets group or others read ("UNPROTECTED PRIVATE KEY FILE"); so does
// provision, before any host is touched.
const work = mkdtempSync(join(tmpdir(), 'a-keys-'));
let sshd: LoopbackSshd;

/** A copy of the loopback sshd's (working) key with the given mode. */
function keyWithMode(name: string, mode: number): string {
  const p = join(work, name);
  copyFileSync(sshd.keyPath, p);
  chmodSync(p, mode);
  return p;
}

beforeAll(async () => {
  sshd = await startLoopbackSshd();
});
afterAll(async () => {
  await sshd?.stop();
});

describe('privateKeyFileProblem', () => {
  it.each(['600', '400', '700'])('accepts a key only its owner can access (mode %s)', (mode) => {
    expect(privateKeyFileProblem(keyWithMode(`ok-${mode}`, parseInt(mode, 8)))).toBeUndefined();
  });

  it.each(['0644', '0640', '0604', '0660'])('refuses a key group or others can access (mode %s), naming the file, its mode and the fix', (shown) => {
    const key = keyWithMode(`open-${shown}`, parseInt(shown, 8));
    expect(privateKeyFileProblem(key)).toBe(
      `UNPROTECTED PRIVATE KEY FILE: permissions ${shown} for '${key}' are too open; a private key must not be accessible by group or others, so it is refused (as OpenSSH does). Fix: chmod 600 '${key}'`,
    );
  });

  it('names a missing key file and a directory given as one', () => {
    expect(privateKeyFileProblem(join(work, 'nope'))).toBe(`private key file ${join(work, 'nope')} does not exist`);
    expect(privateKeyFileProblem(work)).toBe(`private key file ${work} is not a regular file`);
  });
});

describe('the SSH transport with an unprotected key', () => {
  it('refuses the key instead of using it; the same key with mode 0600 connects', async () => {
    const key = keyWithMode('transport-key', 0o644);
    const err = await SshTransport.connect({ ...sshd.spec(), privateKeyPath: key }, { connectAttempts: 1 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnreachableError);
    expect((err as Error).message).toContain(`UNPROTECTED PRIVATE KEY FILE: permissions 0644 for '${key}'`);
    chmodSync(key, 0o600);
    const t = await SshTransport.connect({ ...sshd.spec(), privateKeyPath: key }, { connectAttempts: 1 });
    try {
      expect((await t.exec('echo reached')).stdout.trim()).toBe('reached');
    } finally {
      await t.close();
    }
  });
});

describe('the CLI with an unprotected key', () => {
  let port: FaultServer;
  beforeAll(async () => {
    port = await startFaultServer('silent'); // counts every connection attempt
  });
  afterAll(async () => {
    await port?.close();
  });

  it('exits 4 naming the inventory line, the key file, its mode and chmod 600, before any host is touched', async () => {
    const key = keyWithMode('cli-key', 0o644);
    const inv = join(work, 'inventory.yaml');
    writeFileSync(inv, `all:\n  hosts:\n    h1:\n      ansible_host: 127.0.0.1\n      ansible_port: ${port.port}\n      ansible_ssh_private_key_file: ${key}\n`);
    const r = await provision(['-i', inv, '--playbook', 'test/fixtures/playbooks/fault.yaml'], { json: join(work, 'cli.json') });
    expect(r.code, r.stdout + r.stderr).toBe(4);
    expect(r.stderr.trim().split('\n')).toEqual([
      `provision: ${inv}:6:37 ansible_ssh_private_key_file: UNPROTECTED PRIVATE KEY FILE: permissions 0644 for '${key}' are too open; a private key must not be accessible by group or others, so it is refused (as OpenSSH does). Fix: chmod 600 '${key}' (host h1)`,
    ]);
    expect(r.stdout).not.toContain('PLAY RECAP');
    expect(r.report).toBeUndefined();
    expect(port.accepted).toBe(0);
  });

  it('a missing key file is the same kind of input error, not an unreachable host', async () => {
    const inv = join(work, 'missing.yaml');
    writeFileSync(inv, `all:\n  hosts:\n    h1: { ansible_host: 127.0.0.1, ansible_port: ${port.port}, ansible_ssh_private_key_file: ${join(work, 'gone')} }\n`);
    const r = await provision(['-i', inv, '--playbook', 'test/fixtures/playbooks/fault.yaml']);
    expect(r.code, r.stdout + r.stderr).toBe(4);
    expect(r.stderr).toMatch(new RegExp(`^provision: ${inv}:3:\\d+ ansible_ssh_private_key_file: private key file ${join(work, 'gone')} does not exist \\(host h1\\)\\n$`));
    expect(port.accepted).toBe(0);
  });
});
