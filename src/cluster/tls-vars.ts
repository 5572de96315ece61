import { isIPv4 } from 'node:net';
import { z } from 'zod';
import { canonicalDnsName, canonicalIp } from '../pki/names.js';
import { DEFAULT_VALIDITY_DAYS } from '../pki/options.js';

/** keepalived's VIP: an IPv4 address with its prefix length (the interface's netmask). */
const zVip = z.string().refine((v) => {
  const m = /^([^/]+)\/(\d{1,2})$/.exec(v.trim());
  return Boolean(m && isIPv4(m[1]!) && Number(m[2]) <= 32);
}, 'expected an IPv4 address with its prefix length, such as 192.0.2.100/24');

/** A certificate SAN: a DNS name (a leading `*.` allowed) or an IP address. */
const zSan = z.string().min(1).refine((v) => canonicalDnsName(v) !== undefined || canonicalIp(v) !== undefined, 'expected a DNS name or an IP address (a certificate name)');

export const tlsVars = {
  pki_dir: z.string().min(1).optional(),
  tls_key_type: z.enum(['ec', 'rsa']).default('ec'),
  tls_extra_sans: z.array(zSan).default([]),
  /** Certificates are issued for DEFAULT_VALIDITY_DAYS: renewing earlier than that would re-issue on every run. */
  tls_renew_before_days: z.number().int().min(1).max(DEFAULT_VALIDITY_DAYS - 1, `expected at most ${DEFAULT_VALIDITY_DAYS - 1} days (certificates last ${DEFAULT_VALIDITY_DAYS} days)`).default(30),
  tls_ca_cert: z.string().min(1).optional(),
  tls_ca_key: z.string().min(1).optional(),
  cluster_vip: zVip.optional(),
};
