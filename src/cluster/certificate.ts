import { createHash } from 'node:crypto';
import { isIP } from 'node:net';
import { resolve } from 'node:path';
import type { HostContext } from '../engine/types.js';
import { ensureServerCert, type CertMaterial } from '../pki/index.js';
import { keptEvidence, parseKeptCheck, type KeptCheckStore } from '../pki/kept-check.js';
import { readObservation, recordObservation } from './observed-state.js';
import type { tlsVars, VarsOf } from './variables.js';

/** The certificate's variables, typed from the catalogue. */
export type TlsVars = VarsOf<typeof tlsVars>;

const cache = new Map<string, Promise<CertMaterial>>();

/** `pki_dir` when unset: `pki/` in the inventory directory. */
export const DEFAULT_PKI_DIR = 'pki';

export function pkiDir(ctx: HostContext, vars: TlsVars): string {
  return resolve(ctx.play.inventory.baseDir, vars.pki_dir ?? DEFAULT_PKI_DIR);
}

/** Names a client may use for this host: inventory name, hostname, FQDN, addresses, plus extra names and the VIP. */
export function sansFor(ctx: HostContext, vars: TlsVars, extra: string[] = []): { dns: string[]; ip: string[] } {
  const ansibleHost = ctx.host.vars.ansible_host;
  const names = [ctx.name, ctx.facts.hostname, ctx.facts.fqdn, ...(typeof ansibleHost === 'string' ? [ansibleHost] : []), ...ctx.facts.addresses, ...vars.tls_extra_sans, ...extra, ...(vars.cluster_vip ? [vars.cluster_vip.split('/')[0]!] : [])];
  const unique = [...new Set(names.filter(Boolean))];
  return { dns: unique.filter((n) => !isIP(n)).sort(), ip: unique.filter((n) => isIP(n)).sort() };
}

/** The observation (./observed-state.ts) that lets a no-op skip parsing and verifying the certificates. */
const OBSERVED = 'certificate';

/** The pki check's remembered answer for this host, kept in `.provision-state/<host>/certificate.json`. */
function keptStore(ctx: HostContext, dir: string): KeptCheckStore {
  const baseDir = ctx.play.inventory.baseDir;
  // One host name may have certificates in several PKI directories (pki_dir per play): one entry each.
  const name = dir === resolve(baseDir, DEFAULT_PKI_DIR) ? OBSERVED : `${OBSERVED}-${createHash('sha256').update(dir).digest('hex').slice(0, 12)}`;
  return {
    get: () => {
      const o = readObservation(baseDir, ctx.name, name);
      return o && parseKeptCheck(o.inputs, o.evidence);
    },
    put: (k) => recordObservation(baseDir, ctx.name, name, { inputs: k.inputs, evidence: keptEvidence(k) }),
  };
}

/** The host's server certificate, issued or reused once per run (every step of the run sees the same bytes). */
export function certificateFor(ctx: HostContext, vars: TlsVars, extra: string[] = []): Promise<CertMaterial> {
  const dir = pkiDir(ctx, vars);
  const key = `${dir}:${ctx.name}`;
  let p = cache.get(key);
  if (!p) {
    const sans = sansFor(ctx, vars, extra);
    p = ensureServerCert({
      dir,
      host: ctx.name,
      dnsNames: sans.dns,
      ipAddresses: sans.ip,
      keyType: vars.tls_key_type,
      renewBeforeDays: vars.tls_renew_before_days,
      check: ctx.check,
      kept: keptStore(ctx, dir),
      ...(vars.tls_ca_cert ? { caCert: resolve(ctx.play.inventory.baseDir, vars.tls_ca_cert) } : {}),
      ...(vars.tls_ca_key ? { caKey: resolve(ctx.play.inventory.baseDir, vars.tls_ca_key) } : {}),
    });
    cache.set(key, p);
  }
  return p;
}
