import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, createServer, type ConnectionOptions, type Server, type TLSSocket } from 'node:tls';
import { afterAll, describe, expect, it } from 'vitest';
import { InputError, StepError } from '../../../src/errors.js';
import { defaultPkiDir, describeCert, ensureCa, ensureServerCert, type ServerCertRequest } from '../../../src/pki/index.js';
import { certStructure } from '../../../src/pki/x509.js';

const roots: string[] = [];
async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'pki-test-'));
  roots.push(d);
  return d;
}
afterAll(async () => {
  for (const d of roots) await rm(d, { recursive: true, force: true });
});

function openssl(...args: string[]): string {
  return execFileSync('openssl', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

const mode = async (p: string): Promise<number> => (await stat(p)).mode & 0o777;

function broker(dir: string, host = 'b1', extra: Partial<ServerCertRequest> = {}) {
  return ensureServerCert({
    dir,
    check: false,
    host,
    dnsNames: [`${host}.example.test`, 'mqtt.example.test'],
    ipAddresses: ['10.77.0.11', '127.0.0.1'],
    ...extra,
  });
}

describe('pki: our own CA', () => {
  it('creates the CA once for hosts asking at the same time, with private modes and distinct subjects', async () => {
    const dir = join(await tempDir(), 'pki');
    const [a, b] = await Promise.all([broker(dir, 'b1'), broker(dir, 'b2')]);
    expect([a.caCreated, b.caCreated].sort()).toEqual([false, true]);
    expect(a.caCert).toBe(b.caCert);
    expect(a.caCert).toBe(await readFile(join(dir, 'ca.crt'), 'utf8'));
    expect(a.issued && b.issued).toBe(true);
    expect(a.reasons).toEqual(['no certificate yet']);
    expect(await mode(join(dir, 'ca.key'))).toBe(0o600);
    expect(await mode(join(dir, 'ca.crt'))).toBe(0o644);
    expect(await mode(dir)).toBe(0o700);
    expect(await mode(join(dir, 'hosts', 'b1'))).toBe(0o700);
    expect(await mode(join(dir, 'hosts', 'b1', 'server.key'))).toBe(0o600);
    expect(await mode(join(dir, 'hosts', 'b1', 'server.crt'))).toBe(0o644);
    expect(await readdir(dir)).toEqual(expect.arrayContaining(['ca.crt', 'ca.key', 'hosts']));
    expect((await readdir(dir)).some((f) => f.includes('.tmp-'))).toBe(false);

    const ca = describeCert(a.caCert);
    const server = describeCert(a.cert);
    expect(ca.subject).toMatch(/^CN=provision MQTT CA \S+, O=provision$/);
    expect(server.subject).toBe('CN=b1, O=provision');
    expect(server.issuer).toBe(ca.subject);
    expect(server.subject).not.toBe(ca.subject);
    expect(server.keyType).toBe('ec P-256');
    expect(server.signatureAlgorithm).toBe('ecdsa-with-SHA256');
    expect(server.dns).toEqual(['b1', 'b1.example.test', 'mqtt.example.test']);
    expect(server.ip).toEqual(['10.77.0.11', '127.0.0.1']);
    expect(a.sans).toEqual({ dns: server.dns, ip: server.ip });
    const days = (a.notAfter.getTime() - Date.now()) / 86_400_000;
    expect(days).toBeGreaterThan(396);
    expect(days).toBeLessThanOrEqual(397);
    expect((new X509Certificate(a.caCert).ca)).toBe(true);
    expect(new X509Certificate(a.cert).ca).toBe(false);

    // ensureCa afterwards reads the same CA
    const again = await ensureCa({ dir, check: false });
    expect(again).toEqual({ cert: a.caCert, key: await readFile(join(dir, 'ca.key'), 'utf8'), created: false });
  });

  it('issues certificates openssl verifies (strict too) with sha256, SANs and serverAuth', async () => {
    const dir = await tempDir();
    await broker(dir, 'b1', { ipAddresses: ['10.77.0.11', 'fd00:0:0::11'] });
    const ca = join(dir, 'ca.crt');
    const crt = join(dir, 'hosts', 'b1', 'server.crt');
    expect(openssl('verify', '-CAfile', ca, crt).trim()).toBe(`${crt}: OK`);
    expect(openssl('verify', '-x509_strict', '-purpose', 'sslserver', '-CAfile', ca, crt).trim()).toBe(`${crt}: OK`);
    const text = openssl('x509', '-in', crt, '-noout', '-text');
    expect(text).toContain('Signature Algorithm: ecdsa-with-SHA256');
    expect(text).toContain('ASN1 OID: prime256v1');
    expect(text).toMatch(/DNS:b1, DNS:b1\.example\.test, DNS:mqtt\.example\.test, IP Address:10\.77\.0\.11, IP Address:FD00:0:0:0:0:0:0:11/);
    expect(text).toContain('TLS Web Server Authentication');
    expect(text).not.toContain('TLS Web Client Authentication');
    expect(text).toMatch(/Basic Constraints: critical\s+CA:FALSE/);
    expect(text).toContain('X509v3 Authority Key Identifier');
    const caText = openssl('x509', '-in', ca, '-noout', '-text');
    expect(caText).toMatch(/Basic Constraints: critical\s+CA:TRUE/);
    expect(caText).toMatch(/Key Usage: critical\s+Certificate Sign, CRL Sign/);
    expect(caText).toContain('Signature Algorithm: ecdsa-with-SHA256');
    expect(caText).toContain('X509v3 Subject Key Identifier');
    const caDays = (describeCert(await readFile(ca, 'utf8')).notAfter.getTime() - Date.now()) / 86_400_000;
    expect(Math.round(caDays)).toBe(3650);
    expect(describeCert(await readFile(crt, 'utf8')).ip).toEqual(['10.77.0.11', 'fd00::11']);
  });

  it('makes RSA keys on request, sha256WithRSAEncryption, and refuses RSA under 2048 bits', async () => {
    const dir = await tempDir();
    const m = await broker(dir, 'b1', { keyType: 'rsa' });
    const crt = join(dir, 'hosts', 'b1', 'server.crt');
    expect(openssl('verify', '-x509_strict', '-CAfile', join(dir, 'ca.crt'), crt).trim()).toBe(`${crt}: OK`);
    const text = openssl('x509', '-in', crt, '-noout', '-text');
    expect(text).toContain('Signature Algorithm: sha256WithRSAEncryption');
    expect(text).toContain('Public-Key: (2048 bit)');
    expect(text).toMatch(/Key Usage: critical\s+Digital Signature, Key Encipherment/);
    expect(describeCert(m.cert).keyType).toBe('rsa 2048');
    await expect(broker(await tempDir(), 'b1', { keyType: 'rsa', rsaBits: 1024 })).rejects.toThrow(InputError);
    await expect(broker(await tempDir(), 'b1', { keyType: 'rsa', rsaBits: 1024 })).rejects.toThrow(/rsaBits must be an integer from 2048/);
    await expect(broker(await tempDir(), 'b1', { validityDays: 900 })).rejects.toThrow(/validityDays must be an integer from 1 to 825/);
  });

  it('re-issues an EC server as RSA under the same EC CA (selfsigned alone cannot mix key types)', async () => {
    const dir = await tempDir();
    await broker(dir);
    const m = await broker(dir, 'b1', { keyType: 'rsa' });
    expect(m.issued).toBe(true);
    expect(m.reasons).toEqual(['key type ec P-256, wanted rsa 2048']);
    const crt = join(dir, 'hosts', 'b1', 'server.crt');
    expect(openssl('verify', '-x509_strict', '-CAfile', join(dir, 'ca.crt'), crt).trim()).toBe(`${crt}: OK`);
    const d = describeCert(m.cert);
    expect([d.keyType, d.signatureAlgorithm]).toEqual(['rsa 2048', 'ecdsa-with-SHA256']);
  });
});

describe('pki: TLS', () => {
  const servers: Server[] = [];
  afterAll(() => servers.forEach((s) => s.close()));

  async function serve(cert: string, key: string): Promise<number> {
    const server = createServer({ cert, key }, (s) => s.end('hello\n'));
    servers.push(server);
    await new Promise<void>((res) => server.listen(0, '127.0.0.1', res));
    return (server.address() as { port: number }).port;
  }

  function handshake(opts: ConnectionOptions): Promise<{ authorized: boolean; error?: string }> {
    return new Promise((res) => {
      const s: TLSSocket = connect(opts, () => {
        res({ authorized: s.authorized });
        s.destroy();
      });
      s.on('error', (e: NodeJS.ErrnoException) => res({ authorized: false, error: e.code ?? e.message }));
    });
  }

  it('a real handshake is authorized for the host name and its IP, and refused for other names or without the CA', async () => {
    const dir = await tempDir();
    const m = await broker(dir);
    const port = await serve(m.cert, m.key);
    const base = { host: '127.0.0.1', port, ca: m.caCert };
    expect(await handshake({ ...base, servername: 'b1' })).toEqual({ authorized: true });
    expect(await handshake({ ...base, servername: 'b1.example.test' })).toEqual({ authorized: true });
    expect(await handshake({ ...base, servername: 'mqtt.example.test' })).toEqual({ authorized: true });
    expect(await handshake({ ...base, servername: 'evil.example.test' })).toEqual({ authorized: false, error: 'ERR_TLS_CERT_ALTNAME_INVALID' });
    expect(await handshake(base)).toEqual({ authorized: true }); // by IP: 127.0.0.1 is an IP SAN
    expect(await handshake({ host: '127.0.0.1', port, servername: 'b1' })).toMatchObject({ authorized: false, error: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' });
    const other = await broker(await tempDir());
    expect(await handshake({ ...base, ca: other.caCert, servername: 'b1' })).toMatchObject({ authorized: false });
  });

  it('an RSA certificate handshakes too, and an IP missing from the SANs is refused', async () => {
    const dir = await tempDir();
    const m = await broker(dir, 'b1', { keyType: 'rsa', ipAddresses: ['10.77.0.11'] });
    const port = await serve(m.cert, m.key);
    expect(await handshake({ host: '127.0.0.1', port, ca: m.caCert, servername: 'b1' })).toEqual({ authorized: true });
    expect(await handshake({ host: '127.0.0.1', port, ca: m.caCert })).toEqual({ authorized: false, error: 'ERR_TLS_CERT_ALTNAME_INVALID' });
  });
});

describe('pki: idempotency and re-issue', () => {
  it('reuses the files byte for byte, and re-issues only when SANs, expiry, CA or files require it', async () => {
    const dir = await tempDir();
    const crt = join(dir, 'hosts', 'b1', 'server.crt');
    const key = join(dir, 'hosts', 'b1', 'server.key');
    const first = await broker(dir);
    const bytes = [await readFile(crt), await readFile(key), await readFile(join(dir, 'ca.crt'))];
    const mtime = (await stat(crt)).mtimeMs;

    const second = await broker(dir);
    expect(second.issued).toBe(false);
    expect(second.reasons).toEqual([]);
    expect(second.caCreated).toBe(false);
    expect([second.cert, second.key, second.caCert]).toEqual([first.cert, first.key, first.caCert]);
    expect([await readFile(crt), await readFile(key), await readFile(join(dir, 'ca.crt'))]).toEqual(bytes);
    expect((await stat(crt)).mtimeMs).toBe(mtime);

    // same SANs in another order, host name in other case, IPv4 given as a DNS name: nothing to do
    const reordered = await ensureServerCert({
      dir, check: false, host: 'b1', dnsNames: ['MQTT.example.test.', '127.0.0.1', 'b1.example.test'], ipAddresses: ['10.77.0.11'],
    });
    expect(reordered.issued).toBe(false);

    const added = await broker(dir, 'b1', { ipAddresses: ['10.77.0.11', '127.0.0.1', '10.77.0.14'], dnsNames: ['b1.example.test'] });
    expect(added.issued).toBe(true);
    expect(added.reasons).toEqual(['SANs changed: +10.77.0.14, -mqtt.example.test']);
    expect(added.sans.ip).toEqual(['10.77.0.11', '127.0.0.1', '10.77.0.14']);
    expect(await readFile(crt, 'utf8')).toBe(added.cert);
    expect(added.key).not.toBe(first.key);

    const later = new Date(Date.now() + 380 * 86_400_000);
    const renewed = await broker(dir, 'b1', { now: later, ipAddresses: ['10.77.0.11', '127.0.0.1', '10.77.0.14'], dnsNames: ['b1.example.test'] });
    expect(renewed.issued).toBe(true);
    expect(renewed.reasons).toEqual(['expires in 16 days']);
    expect(Math.round((renewed.notAfter.getTime() - later.getTime()) / 86_400_000)).toBe(397);
    const expired = await broker(dir, 'b1', { now: new Date(Date.now() + 800 * 86_400_000), ipAddresses: ['10.77.0.11', '127.0.0.1', '10.77.0.14'], dnsNames: ['b1.example.test'] });
    expect(expired.reasons).toEqual([expect.stringMatching(/^expired on /)]);

    await writeFile(crt, 'garbage');
    const repaired = await broker(dir);
    expect(repaired.issued).toBe(true);
    expect(repaired.reasons).toEqual([expect.stringMatching(/server\.crt is unreadable/)]);

    await rm(key);
    expect((await broker(dir)).reasons).toEqual([`${key} is missing`]);

    // a new CA: every server certificate is re-issued
    await rm(join(dir, 'ca.crt'));
    await rm(join(dir, 'ca.key'));
    const rekeyed = await broker(dir);
    expect(rekeyed.caCreated).toBe(true);
    expect(rekeyed.reasons).toEqual([`the CA changed: not signed by ${join(dir, 'ca.crt')}`]);
  });

  it('check mode computes everything and writes nothing', async () => {
    const dir = await tempDir();
    const [a, b] = await Promise.all([
      ensureServerCert({ dir, check: true, host: 'b1', dnsNames: [], ipAddresses: ['10.77.0.11'] }),
      ensureServerCert({ dir, check: true, host: 'lb1', dnsNames: ['mqtt.example.test'], ipAddresses: ['10.77.0.100'] }),
    ]);
    expect(await readdir(dir)).toEqual([]);
    expect(a.issued && b.issued && a.caCreated).toBe(true);
    expect(a.caCert).toBe(b.caCert);
    expect(new X509Certificate(a.cert).verify(new X509Certificate(a.caCert).publicKey)).toBe(true);
    expect(a.sans).toEqual({ dns: ['b1'], ip: ['10.77.0.11'] });
    const ca = await ensureCa({ dir, check: true });
    expect(ca.created).toBe(true);
    expect(await readdir(dir)).toEqual([]);

    // an existing, valid certificate: check mode says nothing would change
    await broker(dir);
    const before = await readFile(join(dir, 'hosts', 'b1', 'server.crt'));
    const checked = await broker(dir, 'b1', { check: true });
    expect(checked.issued).toBe(false);
    const wouldChange = await broker(dir, 'b1', { check: true, ipAddresses: ['10.77.0.12'] });
    expect(wouldChange.issued).toBe(true);
    expect(await readFile(join(dir, 'hosts', 'b1', 'server.crt'))).toEqual(before);
  });

  it('refuses to go on when the CA key is lost', async () => {
    const dir = await tempDir();
    await broker(dir);
    await rm(join(dir, 'ca.key'));
    await expect(broker(dir)).rejects.toThrow(StepError);
    await expect(broker(dir)).rejects.toThrow(`${join(dir, 'ca.key')}: the CA key is missing`);
  });

  it('defaultPkiDir is pki/ beside the inventory', () => {
    expect(defaultPkiDir('/srv/site/inventory.yml')).toBe('/srv/site/pki');
  });
});

describe('pki: the user\'s own CA and certificates', () => {
  async function userCa(dir: string, keyAlg: 'rsa' | 'ec'): Promise<{ crt: string; key: string }> {
    const crt = join(dir, 'corp-ca.crt');
    const key = join(dir, 'corp-ca.key');
    const newkey = keyAlg === 'rsa' ? ['-newkey', 'rsa:2048'] : ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256'];
    openssl('req', '-x509', ...newkey, '-nodes', '-keyout', key, '-out', crt, '-days', '100', '-utf8',
      '-subj', '/C=DE/O=Acme, Inc./CN=Acme Root CA', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign');
    return { crt, key };
  }

  function userLeaf(dir: string, name: string, ca: { crt: string; key: string }, san: string): { crt: string; key: string } {
    const crt = join(dir, `${name}.crt`);
    const key = join(dir, `${name}.key`);
    const csr = join(dir, `${name}.csr`);
    openssl('req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', csr, '-subj', `/CN=${name}`);
    const ext = join(dir, `${name}.ext`);
    execFileSync('sh', ['-c', `printf 'subjectAltName=${san}\\nextendedKeyUsage=serverAuth\\n' > '${ext}'`]);
    openssl('x509', '-req', '-in', csr, '-CA', ca.crt, '-CAkey', ca.key, '-CAcreateserial', '-out', crt, '-days', '90', '-extfile', ext);
    return { crt, key };
  }

  it('signs with the user CA (RSA CA, EC server): issuer bytes equal the CA subject, openssl verifies', async () => {
    const dir = await tempDir();
    const ca = await userCa(dir, 'rsa');
    const pki = join(dir, 'pki');
    const m = await broker(pki, 'b1', { caCert: ca.crt, caKey: ca.key });
    expect(m.caCreated).toBe(false);
    expect(m.caCert).toBe(await readFile(ca.crt, 'utf8'));
    expect(existsSync(join(pki, 'ca.key'))).toBe(false);
    expect(existsSync(join(pki, 'ca.crt'))).toBe(false);
    const crt = join(pki, 'hosts', 'b1', 'server.crt');
    expect(openssl('verify', '-x509_strict', '-CAfile', ca.crt, crt).trim()).toBe(`${crt}: OK`);
    const issuerDer = openssl('x509', '-in', crt, '-noout', '-issuer', '-nameopt', 'RFC2253');
    const subjectDer = openssl('x509', '-in', ca.crt, '-noout', '-subject', '-nameopt', 'RFC2253');
    expect(issuerDer.replace('issuer=', '')).toBe(subjectDer.replace('subject=', ''));
    // byte-identical names: the CA's UTF8Strings are kept (selfsigned's `ca` option re-encodes them as PrintableString)
    const name = (pem: string, index: 2 | 4): string => {
      const der = Buffer.from(new X509Certificate(pem).raw);
      const { fields } = certStructure(der);
      const f = fields[1 + index]!;
      return der.subarray(f.start, f.end).toString('hex');
    };
    expect(name(m.cert, 2)).toBe(name(await readFile(ca.crt, 'utf8'), 4));
    expect(name(m.cert, 2)).toContain(`0c0a${Buffer.from('Acme, Inc.').toString('hex')}`);
    expect(describeCert(m.cert).signatureAlgorithm).toBe('sha256WithRSAEncryption');
    expect(describeCert(m.cert).keyType).toBe('ec P-256');
    expect((await broker(pki, 'b1', { caCert: ca.crt, caKey: ca.key })).issued).toBe(false);
    expect(await ensureCa({ dir: pki, check: false, caCert: ca.crt, caKey: ca.key })).toMatchObject({ created: false });
  });

  it('an Ed25519 user CA, a host named by its IPv6 address, a wildcard name', async () => {
    const dir = await tempDir();
    const crt = join(dir, 'ed.crt');
    const key = join(dir, 'ed.key');
    openssl('req', '-x509', '-newkey', 'ed25519', '-nodes', '-keyout', key, '-out', crt, '-days', '100', '-subj', '/CN=Ed CA',
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign');
    const pki = join(dir, 'pki');
    const m = await ensureServerCert({ dir: pki, check: false, host: 'fd00::5', dnsNames: ['*.mqtt.example.test'], ipAddresses: ['FD00:0::5', '10.0.0.5', 'fe80::1%eth0'], caCert: crt, caKey: key });
    const d = describeCert(m.cert);
    expect(d).toMatchObject({ subject: 'CN=fd00::5, O=provision', dns: ['*.mqtt.example.test'], ip: ['fd00::5', '10.0.0.5', 'fe80::1'], signatureAlgorithm: 'ED25519' });
    const file = join(pki, 'hosts', 'fd00::5', 'server.crt');
    expect(openssl('verify', '-x509_strict', '-CAfile', crt, file).trim()).toBe(`${file}: OK`);
    expect(new X509Certificate(m.cert).checkHost('a.mqtt.example.test')).toBe('*.mqtt.example.test');
    // notAfter is capped by the CA's
    expect(m.notAfter.getTime()).toBeLessThanOrEqual(describeCert(await readFile(crt, 'utf8')).notAfter.getTime());
    expect((await ensureServerCert({ dir: pki, check: false, host: 'fd00::5', dnsNames: ['*.mqtt.example.test'], ipAddresses: ['fe80::1', '10.0.0.5'], caCert: crt, caKey: key })).issued).toBe(false);
    await expect(ensureServerCert({ dir: pki, check: false, host: 'b1', dnsNames: ['bad name'], ipAddresses: [], caCert: crt, caKey: key })).rejects.toThrow(
      'invalid DNS name "bad name" for the certificate of host b1',
    );
    await expect(ensureServerCert({ dir: pki, check: false, host: 'b1', dnsNames: [], ipAddresses: ['10.0.0.256'], caCert: crt, caKey: key })).rejects.toThrow(InputError);
  });

  it('without caKey it cannot issue, and takes only validated per-host certificates', async () => {
    const dir = await tempDir();
    const ca = await userCa(dir, 'ec');
    const pki = join(dir, 'pki');
    await expect(broker(pki, 'b1', { caCert: ca.crt })).rejects.toThrow(InputError);
    await expect(broker(pki, 'b1', { caCert: ca.crt })).rejects.toThrow(`${ca.crt}: host b1: without caKey`);

    const good = userLeaf(dir, 'b1', ca, 'DNS:b1,DNS:b1.example.test,IP:10.77.0.11');
    const m = await broker(pki, 'b1', { caCert: ca.crt, userCert: { cert: good.crt, key: good.key } });
    expect(m).toMatchObject({ issued: false, caCreated: false, reasons: [], sans: { dns: ['b1', 'b1.example.test'], ip: ['10.77.0.11'] } });
    expect(m.caCert).toBe(await readFile(ca.crt, 'utf8'));
    expect(m.warnings).toEqual([expect.stringContaining('lacks SANs mqtt.example.test, 127.0.0.1')]);
    expect(existsSync(pki)).toBe(false);

    // no caCert: the CA is taken from the chain appended to the certificate file
    const bundle = join(dir, 'b1-bundle.crt');
    await writeFile(bundle, (await readFile(good.crt, 'utf8')) + (await readFile(ca.crt, 'utf8')));
    const fromChain = await broker(pki, 'b1', { userCert: { cert: bundle, key: good.key } });
    expect(fromChain.caCert).toBe(await readFile(ca.crt, 'utf8'));
    await expect(broker(pki, 'b1', { userCert: { cert: good.crt, key: good.key } })).rejects.toThrow(/cannot tell which CA signed/);

    const wrongHost = userLeaf(dir, 'other', ca, 'DNS:other.example.test,IP:10.77.0.99');
    const err = await broker(pki, 'b1', { caCert: ca.crt, userCert: { cert: wrongHost.crt, key: wrongHost.key } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InputError);
    expect((err as Error).message).toBe(
      `${wrongHost.crt}: the certificate's SANs (DNS:other.example.test, IP:10.77.0.99) do not include the host name b1`,
    );

    await expect(broker(pki, 'b1', { caCert: ca.crt, userCert: { cert: good.crt, key: wrongHost.key } })).rejects.toThrow(
      `${wrongHost.key}: this key does not match the certificate ${good.crt}`,
    );
    await expect(broker(pki, 'b1', { caCert: ca.crt, userCert: { cert: good.crt, key: good.key }, now: new Date(Date.now() + 95 * 86_400_000) })).rejects.toThrow(
      /expired on/,
    );
    const other = await userCa(await tempDir(), 'ec');
    await expect(broker(pki, 'b1', { caCert: other.crt, userCert: { cert: good.crt, key: good.key } })).rejects.toThrow(`is not signed by the CA ${other.crt}`);
    await expect(broker(pki, 'b1', { caCert: join(dir, 'nope.crt'), caKey: ca.key })).rejects.toThrow(`${join(dir, 'nope.crt')}: CA certificate not found`);
    await expect(broker(pki, 'b1', { caCert: good.crt, caKey: good.key })).rejects.toThrow('is not a CA certificate');
  });
});
