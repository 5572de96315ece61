import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { InputError, StepError } from '../errors.js';
import { loadCa, type LoadedCa } from './ca.js';
import { readPair, readUserFile, reason, tightenKeyMode, writeAtomic } from './fsio.js';
import { withLock } from './lock.js';
import { DAY_MS, resolveOptions, wantedKeyType, type PkiOptions, type Resolved } from './options.js';
import { sanChanges, wantedSans, type Sans } from './names.js';
import { generateServerCert } from './sign.js';
import { checkInputs, keptAnswer, type KeptCheckStore } from './kept-check.js';
import { trustBundle } from './trust-bundle.js';
import { parseCert, parsePrivateKey, pemCertificates, type ParsedCert } from './x509.js';

export interface CertMaterial {
  /** PEM of the CA clients must trust. */
  caCert: string;
  /** PEM (for a user certificate: the whole file, chain included). */
  cert: string;
  /** PEM. */
  key: string;
  /** New material (written unless in check mode). */
  issued: boolean;
  /** Why it was (re)issued: `['SANs changed: +10.77.0.14', 'expires in 12 days']`. */
  reasons: string[];
  /** The CA was created by this call (in check mode: would be). */
  caCreated: boolean;
  notAfter: Date;
  /** The certificate's SANs. */
  sans: Sans;
  /** Things worth telling that are not errors (a user certificate lacking wanted SANs, expiring soon). */
  warnings: string[];
}

export interface ServerCertRequest extends PkiOptions {
  /** Inventory host name: the CN, the first DNS SAN and the directory under `hosts/`. */
  host: string;
  /** FQDN, load-balancer names, …; IP addresses given here are moved to the IP SANs. */
  dnsNames: string[];
  /** Host addresses, the VIP, …: IP SANs. */
  ipAddresses: string[];
  /** The host's own certificate and key (PEM paths): validated, never issued nor written. */
  userCert?: { cert: string; key: string };
  /** Where the answer "the stored certificate can be kept" is remembered between runs (./kept-check.ts). */
  kept?: KeptCheckStore;
}

export function hostPaths(dir: string, host: string): { dir: string; cert: string; key: string } {
  const d = join(dir, 'hosts', host);
  return { dir: d, cert: join(d, 'server.crt'), key: join(d, 'server.key') };
}

function checkHostName(host: string): void {
  if (!host || host === '.' || host === '..' || /[/\\\0]/.test(host)) throw new InputError(`invalid host name "${host}" for a certificate`);
}

function days(ms: number): number {
  return Math.floor(ms / DAY_MS);
}

function signedBy(c: X509Certificate, issuer: X509Certificate): boolean {
  return c.checkIssued(issuer) && c.verify(issuer.publicKey);
}

/** Why the stored certificate cannot be kept (empty: keep it). */
function staleness(r: Resolved, ca: LoadedCa, want: Sans, certText: string | undefined, keyText: string | undefined, paths: { cert: string; key: string }, newNotAfter: Date): string[] {
  if (certText === undefined && keyText === undefined) return ['no certificate yet'];
  if (certText === undefined) return [`${paths.cert} is missing`];
  if (keyText === undefined) return [`${paths.key} is missing`];
  let cert: ParsedCert;
  let key: KeyObject;
  try {
    cert = parseCert(certText);
  } catch (e) {
    return [`${paths.cert} is unreadable (${reason(e)})`];
  }
  try {
    key = createPrivateKey(keyText);
  } catch (e) {
    return [`${paths.key} is unreadable (${reason(e)})`];
  }
  const out: string[] = [];
  if (!cert.x509.checkPrivateKey(key)) out.push(`${paths.key} does not match ${paths.cert}`);
  if (!signedBy(cert.x509, ca.parsed.x509)) out.push(`the CA changed: not signed by ${ca.certPath}`);
  const keyType = wantedKeyType(r);
  if (cert.keyType !== keyType) out.push(`key type ${cert.keyType}, wanted ${keyType}`);
  const changes = sanChanges(want, cert);
  if (changes.length) out.push(`SANs changed: ${changes.join(', ')}`);
  if (!cert.serverAuth) out.push('no serverAuth extended key usage');
  const left = cert.notAfter.getTime() - r.now.getTime();
  if (left <= 0) out.push(`expired on ${cert.notAfter.toISOString()}`);
  // When the CA itself ends sooner, a new certificate would not last longer: keep the current one.
  else if (left < r.renewBeforeDays * DAY_MS && newNotAfter.getTime() - cert.notAfter.getTime() > DAY_MS) out.push(`expires in ${days(left)} days`);
  if (cert.notBefore.getTime() > r.now.getTime() + DAY_MS) out.push(`not valid before ${cert.notBefore.toISOString()}`);
  return out;
}

async function ownCert(r: Resolved, req: ServerCertRequest, want: Sans): Promise<CertMaterial> {
  const paths = hostPaths(r.dir, req.host);
  return withLock(`host:${paths.dir}`, async () => {
    const inputs = req.kept ? await checkInputs(r, req.host, want, paths) : undefined;
    const known = inputs && keptAnswer(req.kept, inputs, r.now);
    if (inputs && known) {
      // Nothing the check reads changed since it last said "keep", and time has not reached its margin.
      if (!r.check) await tightenKeyMode(paths.key);
      const caCert = r.caCert ? inputs.caCert! : await trustBundle(r.dir, inputs.caCert!);
      return { caCert, cert: inputs.cert!, key: inputs.key!, issued: false, reasons: [], caCreated: false, notAfter: new Date(known.notAfter), sans: known.sans, warnings: [] };
    }
    const ca = await loadCa(r);
    if (!ca.signer) throw new InputError(`host ${req.host}: without caKey the CA cannot issue certificates: give the host's own cert and key`, ca.certPath);
    const { certText, keyText } = await readPair(paths, `the certificate of ${req.host} in ${paths.dir}`);
    const notBefore = new Date(r.now.getTime() - 3_600_000); // tolerate clients whose clock is a little behind
    const notAfter = new Date(Math.min(notBefore.getTime() + r.validityDays * DAY_MS, ca.parsed.notAfter.getTime()));
    const reasons = staleness(r, ca, want, certText, keyText, paths, notAfter);
    if (reasons.length === 0) {
      const cert = parseCert(certText!);
      if (!r.check) await tightenKeyMode(paths.key);
      if (inputs && !r.check) {
        // The answer holds until renewal could be due or the CA expires (staleness() and loadCa() check both).
        const until = Math.min(cert.notAfter.getTime() - r.renewBeforeDays * DAY_MS, ca.parsed.notAfter.getTime());
        req.kept!.put({ inputs: inputs.digest, since: r.now.getTime(), until, notAfter: cert.notAfter.toISOString(), sans: { dns: cert.dns, ip: cert.ip } });
      }
      return material(ca, certText!, keyText!, false, reasons, cert, []);
    }
    let made: { cert: string; key: string };
    try {
      made = await generateServerCert({ keyType: r.keyType, rsaBits: r.rsaBits, ca: ca.signer, commonName: req.host, sans: want, notBefore, notAfter });
    } catch (e) {
      throw new StepError(`cannot issue the certificate of ${req.host} with ${ca.certPath}: ${reason(e)}`, { cause: e });
    }
    if (!r.check) {
      // Key first: a crash in between leaves a key that does not match, which the next run re-issues.
      await writeAtomic(paths.key, made.key, 0o600);
      await writeAtomic(paths.cert, made.cert, 0o644);
    }
    return material(ca, made.cert, made.key, true, reasons, parseCert(made.cert), []);
  });
}

function material(ca: { cert: string; created: boolean }, cert: string, key: string, issued: boolean, reasons: string[], parsed: ParsedCert, warnings: string[]): CertMaterial {
  return {
    caCert: ca.cert,
    cert,
    key,
    issued,
    reasons,
    caCreated: ca.created,
    notAfter: parsed.notAfter,
    sans: { dns: parsed.dns, ip: parsed.ip },
    warnings,
  };
}

/** Does `leaf` chain (through `intermediates`) to one of `roots`? */
function chainsTo(leaf: X509Certificate, intermediates: X509Certificate[], roots: X509Certificate[]): boolean {
  let cur = leaf;
  for (let hop = 0; hop < 8; hop++) {
    if (roots.some((root) => signedBy(cur, root))) return true;
    const next = intermediates.find((i) => i !== cur && signedBy(cur, i));
    if (!next) return false;
    cur = next;
  }
  return false;
}

/** A host's own certificate: only validated. */
async function userCert(r: Resolved, req: ServerCertRequest, want: Sans): Promise<CertMaterial> {
  const certPath = req.userCert!.cert;
  const keyPath = req.userCert!.key;
  const certText = await readUserFile(certPath, 'certificate');
  const keyText = await readUserFile(keyPath, 'private key');
  let cert: ParsedCert;
  try {
    cert = parseCert(certText);
  } catch (e) {
    throw new InputError(`not a PEM certificate: ${reason(e)}`, certPath);
  }
  let key: KeyObject;
  try {
    key = parsePrivateKey(keyText);
  } catch (e) {
    throw new InputError(`not a usable PEM private key: ${reason(e)}`, keyPath);
  }
  if (!cert.x509.checkPrivateKey(key)) throw new InputError(`this key does not match the certificate ${certPath}`, keyPath);
  if (cert.notAfter <= r.now) throw new InputError(`the certificate of ${req.host} expired on ${cert.notAfter.toISOString()}`, certPath);
  if (cert.notBefore > r.now) throw new InputError(`the certificate of ${req.host} is not valid before ${cert.notBefore.toISOString()}`, certPath);
  const host = req.host;
  const covered = isIP(host) ? cert.x509.checkIP(host) !== undefined : cert.x509.checkHost(host, { subject: 'never' }) !== undefined;
  if (!covered) {
    const have = [...cert.dns.map((d) => `DNS:${d}`), ...cert.ip.map((i) => `IP:${i}`)].join(', ') || 'none';
    throw new InputError(`the certificate's SANs (${have}) do not include the host name ${host}`, certPath);
  }
  const chain = pemCertificates(certText).slice(1).map((p) => new X509Certificate(p));
  let caText: string;
  const ca = r.caCert ? await loadCa(r) : undefined;
  if (ca) {
    if (!chainsTo(cert.x509, chain, ca.all)) throw new InputError(`the certificate of ${host} is not signed by the CA ${ca.certPath}`, certPath);
    caText = ca.cert;
  } else if (signedBy(cert.x509, cert.x509)) {
    caText = cert.pem; // self-signed: clients trust it directly
  } else if (chain.length > 0 && chainsTo(cert.x509, chain.slice(0, -1), chain.slice(-1))) {
    caText = pemCertificates(certText).slice(-1)[0]!;
  } else {
    throw new InputError(`cannot tell which CA signed the certificate of ${host}: append the CA certificate to the file or give caCert`, certPath);
  }
  const warnings: string[] = [];
  const missing = sanChanges(want, cert).filter((c) => c.startsWith('+'));
  if (missing.length) warnings.push(`${certPath} lacks SANs ${missing.map((m) => m.slice(1)).join(', ')}: clients using them will fail hostname checks`);
  const left = cert.notAfter.getTime() - r.now.getTime();
  if (left < r.renewBeforeDays * DAY_MS) warnings.push(`${certPath} expires in ${days(left)} days`);
  if (!cert.serverAuth) warnings.push(`${certPath} lacks the serverAuth extended key usage: clients may refuse it`);
  return material({ cert: caText, created: false }, certText, keyText, false, [], cert, warnings);
}

/**
 * The TLS server certificate of one host (broker or load balancer), signed by the CA, kept in
 * `dir/hosts/<host>/server.{crt,key}` and re-issued only when needed (SANs, expiry, CA, key type, damaged files).
 * With `userCert`, the host's own files are validated instead.
 */
export async function ensureServerCert(o: ServerCertRequest): Promise<CertMaterial> {
  const r = resolveOptions(o);
  checkHostName(o.host);
  const want = wantedSans(o.host, o.dnsNames, o.ipAddresses);
  if (o.userCert) return userCert(r, o, want);
  if (r.caCert && !r.caKey) {
    throw new InputError(`host ${o.host}: without caKey the CA cannot issue certificates: give the host's own cert and key`, r.caCert);
  }
  return ownCert(r, o, want);
}
