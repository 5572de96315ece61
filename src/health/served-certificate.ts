import { X509Certificate } from 'node:crypto';
import type { Duplex } from 'node:stream';
import * as tls from 'node:tls';

export interface ServedCertificate {
  /** SHA-256 fingerprint, `AB:CD:…` as node:crypto prints it. */
  fingerprint256: string;
  serialNumber: string;
  subject: string;
  issuer: string;
  notAfter: Date;
}

/** The fingerprint of a PEM certificate in the form `ServedCertificate.fingerprint256` has. */
export function fingerprintOf(pem: string): string {
  return new X509Certificate(pem).fingerprint256;
}

/** Whole days from `now` until `notAfter` (negative once expired). */
export function daysLeft(notAfter: Date, now = new Date()): number {
  return Math.floor((notAfter.getTime() - now.getTime()) / 86_400_000);
}

/**
 * The certificate a TLS server presents on a fresh handshake over `socket` (e.g. an SSH-forwarded channel to
 * the broker's listener). Nothing is trusted from it: callers compare it with the certificate they expect, or
 * only read its dates, so the chain is not verified here.
 */
export function servedCertificate(socket: Duplex, o: { servername?: string; timeoutMs?: number } = {}): Promise<ServedCertificate> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ socket, rejectUnauthorized: false, ...(o.servername ? { servername: o.servername } : {}) });
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error(`no TLS handshake within ${o.timeoutMs ?? 5000} ms`));
    }, o.timeoutMs ?? 5000);
    s.once('secureConnect', () => {
      clearTimeout(timer);
      const peer = s.getPeerX509Certificate();
      s.destroy();
      if (!peer) return reject(new Error('the server presented no certificate'));
      resolve({ fingerprint256: peer.fingerprint256, serialNumber: peer.serialNumber, subject: peer.subject, issuer: peer.issuer, notAfter: new Date(peer.validTo) });
    });
    s.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}
