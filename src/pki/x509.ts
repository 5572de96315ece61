import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import { childrenOf, contentOf, decodeOid, decodeTime, readTlv, type Tlv } from './der.js';
import { ipFromBytes, type Sans } from './names.js';

export interface CertInfo {
  subject: string;
  issuer: string;
  notBefore: Date;
  notAfter: Date;
  dns: string[];
  ip: string[];
  /** `ec P-256`, `rsa 2048`, `ed25519`. */
  keyType: string;
  /** OpenSSL's name: `ecdsa-with-SHA256`, `sha256WithRSAEncryption`, … */
  signatureAlgorithm: string;
}

export interface ParsedCert extends CertInfo {
  /** The first certificate of the text, as PEM. */
  pem: string;
  x509: X509Certificate;
  isCa: boolean;
  /** No extended key usage extension, or one that lists serverAuth. */
  serverAuth: boolean;
}

const SIG_ALGS: Record<string, string> = {
  '1.2.840.10045.4.1': 'ecdsa-with-SHA1',
  '1.2.840.10045.4.3.2': 'ecdsa-with-SHA256',
  '1.2.840.10045.4.3.3': 'ecdsa-with-SHA384',
  '1.2.840.10045.4.3.4': 'ecdsa-with-SHA512',
  '1.2.840.113549.1.1.4': 'md5WithRSAEncryption',
  '1.2.840.113549.1.1.5': 'sha1WithRSAEncryption',
  '1.2.840.113549.1.1.10': 'rsassaPss',
  '1.2.840.113549.1.1.11': 'sha256WithRSAEncryption',
  '1.2.840.113549.1.1.12': 'sha384WithRSAEncryption',
  '1.2.840.113549.1.1.13': 'sha512WithRSAEncryption',
  '1.3.101.112': 'ED25519',
  '1.3.101.113': 'ED448',
};
const CURVES: Record<string, string> = { prime256v1: 'P-256', secp384r1: 'P-384', secp521r1: 'P-521' };
const SAN_OID = '2.5.29.17';
const SERVER_AUTH = '1.3.6.1.5.5.7.3.1';

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** Every PEM certificate of a text (a leaf followed by its chain, a CA bundle), normalised to end with a newline. */
export function pemCertificates(text: string): string[] {
  return (text.match(PEM_CERT) ?? []).map((b) => `${b}\n`);
}

/** A PEM private key given to us (a CA key, a host's own key): unencrypted, or an Error saying why not. */
export function parsePrivateKey(text: string): KeyObject {
  if (/ENCRYPTED/.test(text)) throw new Error('encrypted private keys are not supported');
  return createPrivateKey(text);
}

export function keyTypeOf(key: KeyObject): string {
  const t = key.asymmetricKeyType ?? 'unknown';
  const d = key.asymmetricKeyDetails ?? {};
  if (t === 'ec') return `ec ${CURVES[d.namedCurve ?? ''] ?? d.namedCurve ?? '?'}`;
  if (t === 'rsa' || t === 'rsa-pss') return `${t} ${d.modulusLength ?? '?'}`;
  return t;
}

/** The parts of a DER certificate this module needs: TBS fields, signature algorithm OID. */
export function certStructure(der: Uint8Array): { tbs: Tlv; fields: Tlv[]; sigAlgOid: string } {
  const outer = readTlv(der, 0);
  const [tbs, sigAlg] = childrenOf(der, outer);
  if (!tbs || !sigAlg || tbs.tag !== 0x30 || sigAlg.tag !== 0x30) throw new Error('not an X.509 certificate');
  const oid = childrenOf(der, sigAlg)[0];
  if (!oid || oid.tag !== 0x06) throw new Error('not an X.509 certificate');
  return { tbs, fields: childrenOf(der, tbs), sigAlgOid: decodeOid(contentOf(der, oid)) };
}

function sansOf(der: Uint8Array, fields: Tlv[]): Sans {
  const sans: Sans = { dns: [], ip: [] };
  const extWrapper = fields.find((f) => f.tag === 0xa3);
  if (!extWrapper) return sans;
  const extSeq = childrenOf(der, extWrapper)[0];
  if (!extSeq) return sans;
  for (const ext of childrenOf(der, extSeq)) {
    const parts = childrenOf(der, ext);
    if (decodeOid(contentOf(der, parts[0]!)) !== SAN_OID) continue;
    const value = parts[parts.length - 1]!;
    const names = readTlv(der, value.contentStart, value.end);
    for (const gn of childrenOf(der, names)) {
      if (gn.tag === 0x82) sans.dns.push(contentOf(der, gn).toString('latin1').toLowerCase());
      else if (gn.tag === 0x87) sans.ip.push(ipFromBytes(contentOf(der, gn)));
    }
  }
  return sans;
}

/** Parse the first certificate of a PEM text; throws a plain Error with the reason when it cannot. */
export function parseCert(text: string): ParsedCert {
  const pem = pemCertificates(text)[0];
  if (!pem) throw new Error('no PEM certificate found');
  const x509 = new X509Certificate(pem);
  const der = x509.raw;
  const { fields, sigAlgOid } = certStructure(der);
  const base = fields[0]?.tag === 0xa0 ? 1 : 0;
  const validity = fields[base + 3];
  if (!validity) throw new Error('not an X.509 certificate');
  const [nb, na] = childrenOf(der, validity);
  const sans = sansOf(der, fields);
  const eku = x509.keyUsage as string[] | undefined;
  return {
    pem,
    x509,
    subject: x509.subject.split('\n').join(', '),
    issuer: x509.issuer.split('\n').join(', '),
    notBefore: decodeTime(der, nb!),
    notAfter: decodeTime(der, na!),
    dns: sans.dns,
    ip: sans.ip,
    keyType: keyTypeOf(x509.publicKey),
    signatureAlgorithm: SIG_ALGS[sigAlgOid] ?? sigAlgOid,
    isCa: x509.ca,
    serverAuth: !eku || eku.length === 0 || eku.includes(SERVER_AUTH),
  };
}

/** What a certificate says, for reports and diffs: subject, issuer, expiry, SANs, key type and signature algorithm. */
export function describeCert(pem: string): CertInfo & { notBefore: Date } {
  const c = parseCert(pem);
  return {
    subject: c.subject,
    issuer: c.issuer,
    notBefore: c.notBefore,
    notAfter: c.notAfter,
    dns: c.dns,
    ip: c.ip,
    keyType: c.keyType,
    signatureAlgorithm: c.signatureAlgorithm,
  };
}
