/**
 * The one TLS policy for every client-facing listener (mosquitto's TLS listener and HAProxy's frontend):
 * Mozilla "intermediate" (v5.7) — TLS 1.2 and 1.3 only, forward secrecy, AEAD ciphers only (AES-GCM and
 * ChaCha20-Poly1305; no CBC, no SHA-1 MACs). docs/security.md states it; test/unit/tls/policy.test.ts and
 * the minimal-host end-to-end test check it with OpenSSL against both servers.
 */

/** Lowest protocol version offered. */
export const TLS_MIN_VERSION = '1.2';

/** TLS 1.2 suites (OpenSSL names), in preference order. DHE needs no parameter file: both servers use built-in groups. */
export const TLS12_CIPHERS = [
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
  'DHE-RSA-AES128-GCM-SHA256',
  'DHE-RSA-AES256-GCM-SHA384',
] as const;

/** TLS 1.3 suites (all AEAD; OpenSSL's default set, stated so both servers agree). */
export const TLS13_CIPHERSUITES = ['TLS_AES_128_GCM_SHA256', 'TLS_AES_256_GCM_SHA384', 'TLS_CHACHA20_POLY1305_SHA256'] as const;

/** OpenSSL cipher-list strings, as mosquitto (`ciphers`, `ciphers_tls1.3`) and HAProxy (`ciphers`, `ciphersuites`) take them. */
export const TLS12_CIPHER_LIST = TLS12_CIPHERS.join(':');
export const TLS13_CIPHERSUITE_LIST = TLS13_CIPHERSUITES.join(':');

/** mosquitto.conf lines for a TLS listener: `tls_version tlsv1.2` there means "1.2 or later" (src/net.c). */
export function mosquittoTlsLines(): string[] {
  return [`tls_version tlsv${TLS_MIN_VERSION}`, `ciphers ${TLS12_CIPHER_LIST}`, `ciphers_tls1.3 ${TLS13_CIPHERSUITE_LIST}`];
}

/** HAProxy global defaults for every `bind ... ssl` (the frontend's binds also repeat ssl-min-ver). */
export function haproxyTlsGlobals(): string[] {
  return [`ssl-default-bind-ciphers ${TLS12_CIPHER_LIST}`, `ssl-default-bind-ciphersuites ${TLS13_CIPHERSUITE_LIST}`, `ssl-default-bind-options ssl-min-ver TLSv${TLS_MIN_VERSION} no-tls-tickets`];
}

export const HAPROXY_MIN_VERSION = `TLSv${TLS_MIN_VERSION}`;
