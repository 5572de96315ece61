import { randomBytes, X509Certificate, type KeyObject } from 'node:crypto';
import { join } from 'node:path';
import { InputError, StepError } from '../errors.js';
import { ensureDir, readPair, readUserFile, reason, tightenKeyMode, writeAtomic } from './fsio.js';
import { withLock } from './lock.js';
import { trustBundle } from './trust-bundle.js';
import { CA_VALIDITY_DAYS, DAY_MS, resolveOptions, type PkiOptions, type Resolved } from './options.js';
import { generateCa, type Signer } from './sign.js';
import { parseCert, parsePrivateKey, pemCertificates, type ParsedCert } from './x509.js';

export interface CaMaterial {
  /** PEM: what clients trust (`cafile`). For a user CA, the whole `caCert` file. */
  cert: string;
  /** PEM; empty for a user CA given without its key. */
  key: string;
  created: boolean;
}

export interface LoadedCa extends CaMaterial {
  /** Where the CA certificate is (or will be) kept: named in messages. */
  certPath: string;
  parsed: ParsedCert;
  /** Every certificate of `cert` (a user's file may hold a chain). */
  all: X509Certificate[];
  /** Absent when there is no key: nothing can be issued. */
  signer?: Signer;
  userProvided: boolean;
}

/** CAs made in check mode, so that every host of a run sees the same one (nothing is written). */
const unsaved = new Map<string, Promise<LoadedCa>>();

export function caPaths(dir: string): { cert: string; key: string } {
  return { cert: join(dir, 'ca.crt'), key: join(dir, 'ca.key') };
}

function loaded(certText: string, keyText: string, certPath: string, created: boolean, userProvided: boolean): LoadedCa {
  const parsed = parseCert(certText);
  const all = pemCertificates(certText).map((p) => new X509Certificate(p));
  return {
    cert: certText,
    key: keyText,
    created,
    certPath,
    parsed,
    all,
    signer: keyText ? { key: parsePrivateKey(keyText), cert: parsed.x509 } : undefined,
    userProvided,
  };
}

/** The user's CA: `caCert` (+ `caKey`), validated. Errors are InputErrors naming the file. */
async function userCa(r: Resolved): Promise<LoadedCa> {
  const certPath = r.caCert!;
  const certText = await readUserFile(certPath, 'CA certificate');
  let parsed: ParsedCert;
  try {
    parsed = parseCert(certText);
  } catch (e) {
    throw new InputError(`not a PEM CA certificate: ${reason(e)}`, certPath);
  }
  if (!parsed.isCa) throw new InputError(`"${parsed.subject}" is not a CA certificate (basicConstraints cA is not set)`, certPath);
  if (parsed.notAfter <= r.now) throw new InputError(`the CA certificate expired on ${parsed.notAfter.toISOString()}`, certPath);
  let keyText = '';
  if (r.caKey) {
    const text = await readUserFile(r.caKey, 'CA key');
    let key: KeyObject;
    try {
      key = parsePrivateKey(text);
    } catch (e) {
      throw new InputError(`not a usable PEM private key: ${reason(e)}`, r.caKey);
    }
    if (!parsed.x509.checkPrivateKey(key)) throw new InputError(`this is not the key of the CA certificate ${certPath}`, r.caKey);
    if (!['ec', 'rsa', 'ed25519'].includes(key.asymmetricKeyType ?? '')) {
      throw new InputError(`unsupported CA key type ${key.asymmetricKeyType ?? 'unknown'} (use an EC, RSA or Ed25519 key)`, r.caKey);
    }
    keyText = text;
  }
  return loaded(certText, keyText, certPath, false, true);
}

async function makeCa(r: Resolved): Promise<{ cert: string; key: string }> {
  const suffix = (r.caName ?? randomBytes(4).toString('hex')).replace(/[^A-Za-z0-9 ._-]/g, '-').slice(0, 40);
  const notBefore = new Date(r.now.getTime() - 3_600_000);
  return generateCa({
    keyType: r.keyType,
    rsaBits: r.rsaBits,
    commonName: `provision MQTT CA ${suffix}`,
    notBefore,
    notAfter: new Date(notBefore.getTime() + CA_VALIDITY_DAYS * DAY_MS),
  });
}

/** Our CA in `dir`: read it, or create it (once per directory, even when many hosts ask at the same time). */
async function ownCa(r: Resolved): Promise<LoadedCa> {
  const paths = caPaths(r.dir);
  return withLock(`ca:${r.dir}`, async () => {
    const { certText, keyText } = await readPair(paths, `the CA in ${r.dir}`);
    if (certText === undefined && keyText === undefined) {
      if (r.check) {
        let memo = unsaved.get(r.dir);
        if (!memo) {
          memo = makeCa(r).then((m) => loaded(m.cert, m.key, paths.cert, true, false));
          unsaved.set(r.dir, memo);
          memo.catch(() => unsaved.delete(r.dir));
        }
        return memo;
      }
      const made = await makeCa(r);
      await ensureDir(r.dir);
      await writeAtomic(paths.key, made.key, 0o600);
      await writeAtomic(paths.cert, made.cert, 0o644);
      return loaded(made.cert, made.key, paths.cert, true, false);
    }
    const move = `; to start a new CA move ${paths.cert} and ${paths.key} away (every client must then trust the new ca.crt)`;
    if (keyText === undefined) throw new StepError(`${paths.key}: the CA key is missing but ${paths.cert} exists: restore it${move}`);
    if (certText === undefined) throw new StepError(`${paths.cert}: the CA certificate is missing but ${paths.key} exists: restore it${move}`);
    let ca: LoadedCa;
    try {
      ca = loaded(certText, keyText, paths.cert, false, false);
    } catch (e) {
      throw new StepError(`${paths.cert} / ${paths.key}: cannot read the CA: ${reason(e)}`);
    }
    if (!ca.parsed.x509.checkPrivateKey(ca.signer!.key)) throw new StepError(`${paths.key} is not the key of ${paths.cert}${move}`);
    if (ca.parsed.notAfter <= r.now) throw new StepError(`${paths.cert}: the CA expired on ${ca.parsed.notAfter.toISOString()}${move}`);
    if (!r.check) await tightenKeyMode(paths.key);
    // During a CA rollover (src/pki/rotation.ts) hosts and clients trust the next or the previous CA as well.
    return { ...ca, cert: await trustBundle(r.dir, certText) };
  });
}

export async function loadCa(r: Resolved): Promise<LoadedCa> {
  return r.caCert ? userCa(r) : ownCa(r);
}

/**
 * The CA that signs server certificates: the user's (`caCert`/`caKey`) or ours in `dir` (`ca.crt` 0644, `ca.key` 0600),
 * created on first use. In check mode a missing CA is made in memory only (`created: true`, nothing written).
 */
export async function ensureCa(o: PkiOptions): Promise<CaMaterial> {
  const ca = await loadCa(resolveOptions(o));
  return { cert: ca.cert, key: ca.key, created: ca.created };
}
