import { X509Certificate } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { StepError } from '../../../src/errors.js';
import { ensureServerCert, rotateCa, rotationPaths } from '../../../src/pki/index.js';
import { pemCertificates } from '../../../src/pki/x509.js';

const roots: string[] = [];
afterAll(async () => {
  for (const d of roots) await rm(d, { recursive: true, force: true });
});
async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'pki-rotation-'));
  roots.push(d);
  return d;
}

const issue = (dir: string) => ensureServerCert({ dir, check: false, host: 'b1', dnsNames: ['b1.example.test'], ipAddresses: ['10.77.0.11'] });
const subjects = (pem: string) => pemCertificates(pem).map((p) => new X509Certificate(p).subject);
const issuerOf = (pem: string) => new X509Certificate(pem).issuer;

describe('pki: CA rollover (start → promote → retire)', () => {
  it('trust moves old → old+new → new+old → new while the signer moves old → new once, at promote', async () => {
    const dir = await tempDir();
    const first = await issue(dir);
    const oldCa = await readFile(join(dir, 'ca.crt'), 'utf8');
    const oldSubject = new X509Certificate(oldCa).subject;
    expect(subjects(first.caCert)).toEqual([oldSubject]);

    const started = await rotateCa(dir, 'start');
    expect(started.join('\n')).toContain('provision pki rotate-ca promote');
    const p = rotationPaths(dir);
    const newCa = await readFile(p.next.cert, 'utf8');
    const newSubject = new X509Certificate(newCa).subject;
    expect(newSubject).not.toBe(oldSubject);
    expect((await stat(p.next.key)).mode & 0o777).toBe(0o600);
    // Stage 1: the hosts trust both; the server certificate is kept (still the old CA's).
    const during = await issue(dir);
    expect(during.issued).toBe(false);
    expect(subjects(during.caCert)).toEqual([oldSubject, newSubject]);
    expect(subjects(await readFile(p.bundle, 'utf8'))).toEqual([oldSubject, newSubject]);

    await rotateCa(dir, 'promote');
    expect(await readFile(join(dir, 'ca.crt'), 'utf8')).toBe(newCa);
    expect(existsSync(p.next.key)).toBe(false);
    expect(await readFile(p.previous, 'utf8')).toBe(oldCa);
    // Stage 2: re-issued by the new CA; the old one is still trusted.
    const promoted = await issue(dir);
    expect(promoted.issued).toBe(true);
    expect(promoted.reasons.join('; ')).toContain('the CA changed');
    expect(issuerOf(promoted.cert)).toBe(newSubject);
    expect(subjects(promoted.caCert)).toEqual([newSubject, oldSubject]);
    expect(subjects(await readFile(p.bundle, 'utf8'))).toEqual([newSubject, oldSubject]);

    await rotateCa(dir, 'retire');
    expect(existsSync(p.previous)).toBe(false);
    const retired = await issue(dir);
    expect(retired.issued).toBe(false);
    expect(subjects(retired.caCert)).toEqual([newSubject]);
    expect(subjects(await readFile(p.bundle, 'utf8'))).toEqual([newSubject]);
  });

  it('refuses a stage out of order, naming the next one', async () => {
    const dir = await tempDir();
    await expect(rotateCa(dir, 'start')).rejects.toThrow(/no CA of provision's own here/);
    await issue(dir);
    await expect(rotateCa(dir, 'promote')).rejects.toThrow(/start a rotation first/);
    await expect(rotateCa(dir, 'retire')).rejects.toThrow(/nothing to retire/);
    await rotateCa(dir, 'start');
    await expect(rotateCa(dir, 'start')).rejects.toThrow(/rotation is under way; next stage: provision pki rotate-ca promote/);
    await expect(rotateCa(dir, 'retire')).rejects.toThrow(/promote it first/);
    await rotateCa(dir, 'promote');
    await expect(rotateCa(dir, 'start')).rejects.toThrow(/next stage: provision pki rotate-ca retire/);
    await expect(rotateCa(dir, 'retire')).resolves.toBeInstanceOf(Array);
    // Finished: a new rotation may start.
    await expect(rotateCa(dir, 'start')).resolves.toBeInstanceOf(Array);
  });
});

describe('pki: CA rollover errors are StepErrors', () => {
  it('a missing next key at promote', async () => {
    const dir = await tempDir();
    await issue(dir);
    await rotateCa(dir, 'start');
    await rm(rotationPaths(dir).next.key);
    await expect(rotateCa(dir, 'promote')).rejects.toBeInstanceOf(StepError);
  });
});
