import type { StepRecord } from '../engine/records.js';

/**
 * How much a step's changes matter to the reader of a recap, most first: what restarted, the firewall, services and
 * units, certificates, accounts, configuration files, then directories, packages, and last the package lists that
 * every first run refreshes.
 */
export const CHANGE_KINDS = ['restarts', 'firewall', 'units', 'certificates', 'accounts', 'files', 'other changes', 'directories', 'packages', 'package lists'] as const;
export type ChangeKind = (typeof CHANGE_KINDS)[number];

type Origin = Pick<StepRecord, 'kind' | 'role'>;

/** Tried in this order (a directory of certificates is a directory; a restart of the firewall is a restart). */
const TESTS: [ChangeKind, (r: Origin, text: string) => boolean][] = [
  ['restarts', (r, t) => r.kind === 'handler' || /\b(restart|reload|stop)\b/.test(t)],
  ['firewall', (r, t) => r.role === 'firewall' || /\b(nftables|firewalld|ufw)\b/.test(t)],
  ['directories', (_r, t) => /^(create directory|set owner|set mode)\b/.test(t)],
  ['units', (_r, t) => /systemd|\.service\b|\b(enable|disable|start)\b/.test(t)],
  ['certificates', (r, t) => r.role === 'pki' || /certificate|\.crt\b|\.pem\b|\.key\b/.test(t)],
  ['accounts', (r, t) => r.role === 'mqtt_auth' || /dynamic-security|\buser\b|\bclient\b/.test(t)],
  ['packages', (_r, t) => /^(install|remove|upgrade) /.test(t)],
  ['package lists', (_r, t) => /^refresh package lists\b/.test(t)],
  ['files', (_r, t) => /^(create|update|copy) /.test(t)],
];

/** The kind of one step's changes (`text`: their summaries joined). */
export function changeKind(r: Origin, text: string): ChangeKind {
  return TESTS.find(([, test]) => test(r, text))?.[0] ?? 'other changes';
}

export function changeRank(kind: ChangeKind): number {
  return CHANGE_KINDS.indexOf(kind);
}
