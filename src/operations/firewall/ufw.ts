import { StepError } from '../../errors.js';
import type { Change, HostContext } from '../../engine/types.js';
import type { UfwFacts, UfwTuple } from '../../facts/firewall.js';
import { shq } from '../../transport/shell-quote.js';
import { type Rule, describe, family, safeComment } from './rules.js';

/** Rules we add carry this comment prefix; only such rules are ever deleted. */
export const UFW_COMMENT = 'provision';

interface UfwRule {
  proto: 'tcp' | 'udp';
  port: number;
  /** 'any' or a normalised address/CIDR. */
  src: string;
  comment: string;
}

const ANY = new Set(['0.0.0.0/0', '::/0', 'any']);

function wanted(rules: Rule[]): UfwRule[] {
  if (rules.some((r) => r.proto === 'vrrp')) throw new StepError('ufw cannot express VRRP rules for keepalived: use firewall_backend nftables or firewalld on load balancers with a VIP');
  return rules.flatMap((r) => {
    const comment = `${UFW_COMMENT}${r.comment ? `: ${safeComment(r.comment)}` : ''}`;
    const proto = r.proto as 'tcp' | 'udp';
    return r.sources.length === 0 ? [{ proto, port: r.port, src: 'any', comment }] : r.sources.map((src) => ({ proto, port: r.port, src, comment }));
  });
}

function isPlainAllowIn(t: UfwTuple): boolean {
  return t.action === 'allow' && t.direction === 'in' && ANY.has(t.dst) && t.sport === 'any' && /^\d+$/.test(t.dport);
}

/** A wanted rule is present when ufw holds it for every family it applies to (any: both with IPV6=yes). */
function present(w: UfwRule, f: UfwFacts): boolean {
  const families = w.src === 'any' ? (f.ipv6 ? [4, 6] : [4]) : [family(w.src)];
  return families.every((fam) =>
    f.rules.some((t) => t.family === fam && isPlainAllowIn(t) && t.proto === w.proto && Number(t.dport) === w.port && (w.src === 'any' ? ANY.has(t.src) : t.src === w.src)),
  );
}

function spec(proto: string, port: string | number, src: string): string {
  return `proto ${proto} from ${ANY.has(src) ? 'any' : src} to any port ${port}`;
}

export function planUfw(_ctx: HostContext, f: UfwFacts, rules: Rule[]): Change[] {
  const want = wanted(rules);
  const changes: Change[] = [];
  // SSH first: its rule must exist before anything could start dropping.
  const missing = want.filter((w) => !present(w, f));
  if (missing.length) {
    changes.push({
      summary: `ufw allow ${missing.map((w) => describe({ port: w.port, proto: w.proto, sources: w.src === 'any' ? [] : [w.src], comment: '' })).join(', ')}`,
      actions: [{ script: ['set -e', ...missing.map((w) => `ufw allow ${spec(w.proto, w.port, w.src)} comment ${shq(w.comment)} >/dev/null`)].join('\n') }],
    });
  }
  const stale = new Map<string, UfwTuple>();
  for (const t of f.rules) {
    if (!isPlainAllowIn(t) || !t.comment.startsWith(UFW_COMMENT)) continue;
    const keep = want.some((w) => w.proto === t.proto && w.port === Number(t.dport) && (w.src === 'any' ? ANY.has(t.src) : w.src === t.src));
    if (!keep) stale.set(spec(t.proto, t.dport, ANY.has(t.src) ? 'any' : t.src), t);
  }
  if (stale.size) {
    changes.push({
      summary: `ufw delete rules no longer wanted: ${[...stale.keys()].join('; ')}`,
      actions: [{ script: ['set -e', ...[...stale.keys()].map((s) => `ufw delete allow ${s} >/dev/null`)].join('\n') }],
    });
  }
  if (f.inputPolicy !== 'DROP') changes.push({ summary: `ufw default deny incoming (was ${f.inputPolicy.toLowerCase()})`, actions: [{ script: 'ufw default deny incoming >/dev/null' }] });
  if (!f.active) changes.push({ summary: 'enable ufw (persistent)', actions: [{ script: 'ufw --force enable >/dev/null' }] });
  return changes;
}
