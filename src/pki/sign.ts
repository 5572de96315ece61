/**
 * Certificate issuance. `selfsigned` builds the keys and the certificate body (subject, validity, extensions),
 * self-signed; we then rewrite the body and sign it with the CA key here, because selfsigned's own `ca` option
 *  - fails when the CA key type differs from the new key's (an RSA server under an EC CA: "Invalid key type"),
 *  - re-encodes the CA subject from its string form (UTF8String → PrintableString), so the issuer bytes differ
 *    from the CA's subject bytes, which byte-comparing verifiers (Go's crypto/x509) refuse to chain,
 *  - writes no subject/authority key identifiers, which OpenSSL's strict mode (Python ≥ 3.13's default) requires.
 */
import { createHash, createPrivateKey, sign, X509Certificate, type KeyObject } from 'node:crypto';
import { generate } from 'selfsigned';
import { childrenOf, contentOf, decodeOid, encodeOid, encodeTlv, rawOf, readTlv, type Tlv } from './der.js';
import { certStructure } from './x509.js';
import type { Sans } from './names.js';

export type KeyType = 'ec' | 'rsa';

export interface Signer {
  key: KeyObject;
  cert: X509Certificate;
}

const SKI_OID = '2.5.29.14';
const AKI_OID = '2.5.29.35';
const NULL = Buffer.from([0x05, 0x00]);

interface TbsParts {
  der: Buffer;
  fields: Tlv[];
  /** Index of the serial number (1 when a version field is present). */
  base: number;
}

function tbsParts(der: Buffer): TbsParts {
  const { fields } = certStructure(der);
  return { der, fields, base: fields[0]?.tag === 0xa0 ? 1 : 0 };
}

function extensionsOf(p: TbsParts): Tlv[] {
  const wrapper = p.fields.find((f) => f.tag === 0xa3);
  const seq = wrapper && childrenOf(p.der, wrapper)[0];
  return seq ? childrenOf(p.der, seq) : [];
}

function extensionValue(p: TbsParts, oid: string): Buffer | undefined {
  for (const ext of extensionsOf(p)) {
    const parts = childrenOf(p.der, ext);
    if (decodeOid(contentOf(p.der, parts[0]!)) === oid) return contentOf(p.der, parts[parts.length - 1]!);
  }
  return undefined;
}

/** RFC 5280 §4.2.1.2 method 1: SHA-1 of the subjectPublicKey bits. */
function keyIdFromSpki(p: TbsParts): Buffer {
  const spki = p.fields[p.base + 5]!;
  const bits = childrenOf(p.der, spki)[1]!;
  return createHash('sha1').update(p.der.subarray(bits.contentStart + 1, bits.end)).digest();
}

/** The CA's own subject key identifier when it has one (so that AKI = issuer's SKI), else one computed from its key. */
function issuerKeyId(ca: X509Certificate): Buffer {
  const p = tbsParts(Buffer.from(ca.raw));
  const ski = extensionValue(p, SKI_OID);
  if (ski) {
    const inner = readTlv(ski, 0);
    return contentOf(ski, inner);
  }
  return keyIdFromSpki(p);
}

function extension(oid: string, value: Buffer): Buffer {
  return encodeTlv(0x30, Buffer.concat([encodeOid(oid), encodeTlv(0x04, value)]));
}

/** The signature AlgorithmIdentifier and digest for a CA key: always SHA-256. */
function signatureAlgorithm(key: KeyObject): { algId: Buffer; digest: string | null } {
  switch (key.asymmetricKeyType) {
    case 'ec':
      return { algId: encodeTlv(0x30, encodeOid('1.2.840.10045.4.3.2')), digest: 'sha256' };
    case 'rsa':
      return { algId: encodeTlv(0x30, Buffer.concat([encodeOid('1.2.840.113549.1.1.11'), NULL])), digest: 'sha256' };
    case 'ed25519':
      return { algId: encodeTlv(0x30, encodeOid('1.3.101.112')), digest: null };
    default:
      throw new Error(`unsupported CA key type ${key.asymmetricKeyType ?? 'unknown'} (use an EC, RSA or Ed25519 key)`);
  }
}

function toPem(der: Buffer): string {
  return `-----BEGIN CERTIFICATE-----\n${der.toString('base64').match(/.{1,64}/g)!.join('\n')}\n-----END CERTIFICATE-----\n`;
}

/**
 * Re-sign a certificate body with `signer` (or with `selfKey` when self-signed): issuer = the signer's subject,
 * bytes for bytes; adds subjectKeyIdentifier and authorityKeyIdentifier.
 */
function resign(certPem: string, signer: Signer | { selfKey: KeyObject }): string {
  const der = Buffer.from(new X509Certificate(certPem).raw);
  const p = tbsParts(der);
  const key = 'selfKey' in signer ? signer.selfKey : signer.key;
  const { algId, digest } = signatureAlgorithm(key);
  const ownKeyId = keyIdFromSpki(p);
  let issuer: Buffer;
  let akid: Buffer;
  if ('selfKey' in signer) {
    issuer = rawOf(der, p.fields[p.base + 4]!);
    akid = ownKeyId;
  } else {
    const ca = tbsParts(Buffer.from(signer.cert.raw));
    issuer = rawOf(ca.der, ca.fields[ca.base + 4]!);
    akid = issuerKeyId(signer.cert);
  }
  const exts = extensionsOf(p).map((e) => rawOf(der, e));
  exts.push(extension(SKI_OID, encodeTlv(0x04, ownKeyId)));
  exts.push(extension(AKI_OID, encodeTlv(0x30, encodeTlv(0x80, akid))));
  const fields = p.fields.filter((f) => f.tag !== 0xa3).map((f) => rawOf(der, f));
  fields[p.base + 1] = algId;
  fields[p.base + 2] = issuer;
  fields.push(encodeTlv(0xa3, encodeTlv(0x30, Buffer.concat(exts))));
  const tbs = encodeTlv(0x30, Buffer.concat(fields));
  const signature = sign(digest, tbs, key);
  return toPem(encodeTlv(0x30, Buffer.concat([tbs, algId, encodeTlv(0x03, Buffer.concat([Buffer.from([0]), signature]))])));
}

interface KeySpec {
  keyType: KeyType;
  rsaBits: number;
}

function keyOptions(k: KeySpec): { keyType: KeyType; keySize?: number; curve?: 'P-256' } {
  return k.keyType === 'rsa' ? { keyType: 'rsa', keySize: k.rsaBits } : { keyType: 'ec', curve: 'P-256' };
}

export async function generateCa(p: KeySpec & { commonName: string; notBefore: Date; notAfter: Date }): Promise<{ cert: string; key: string }> {
  const made = await generate(
    [
      { name: 'commonName', value: p.commonName },
      { name: 'organizationName', value: 'provision' },
    ],
    {
      ...keyOptions(p),
      algorithm: 'sha256', // selfsigned's default is sha1
      notBeforeDate: p.notBefore,
      notAfterDate: p.notAfter,
      extensions: [
        { name: 'basicConstraints', cA: true, pathLenConstraint: 0, critical: true },
        { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
      ],
    },
  );
  const key = made.private;
  return { cert: resign(made.cert, { selfKey: createPrivateKey(key) }), key };
}

export async function generateServerCert(
  p: KeySpec & { ca: Signer; commonName: string; sans: Sans; notBefore: Date; notAfter: Date },
): Promise<{ cert: string; key: string }> {
  const made = await generate(
    [
      { name: 'commonName', value: p.commonName },
      { name: 'organizationName', value: 'provision' },
    ],
    {
      ...keyOptions(p),
      algorithm: 'sha256',
      notBeforeDate: p.notBefore,
      notAfterDate: p.notAfter,
      extensions: [
        { name: 'basicConstraints', cA: false, critical: true },
        // keyEncipherment only means something for RSA key transport (TLS ≤ 1.2 RSA key exchange).
        { name: 'keyUsage', digitalSignature: true, keyEncipherment: p.keyType === 'rsa', critical: true },
        { name: 'extKeyUsage', serverAuth: true },
        {
          name: 'subjectAltName',
          altNames: [...p.sans.dns.map((value) => ({ type: 2 as const, value })), ...p.sans.ip.map((ip) => ({ type: 7 as const, ip }))],
        },
      ],
    },
  );
  const cert = resign(made.cert, p.ca);
  const x = new X509Certificate(cert);
  if (!x.checkIssued(p.ca.cert) || !x.verify(p.ca.cert.publicKey)) throw new Error('the issued certificate does not verify with the CA');
  return { cert, key: made.private };
}
