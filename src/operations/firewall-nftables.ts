import type { Change, HostContext } from '../engine/types.js';
import { NFT_FILE, NFT_INCLUDE, NFT_LOADED_HASH_FILE, NFT_TABLE, type NftablesFacts } from '../facts/firewall.js';
import { shq } from '../transport/shell-quote.js';
import { unifiedDiff } from './diff.js';
import { type Rule, describe, family, safeComment } from './firewall-rules.js';
import { writeFileActions } from './write-file.js';

/**
 * VRRP as a number: nft resolves protocol names it has no keyword for through /etc/protocols, which hosts
 * installed without netbase (minbase, slim images) lack ("Could not resolve protocol name").
 */
const VRRP_PROTOCOL = 112;

/**
 * Our own table: other tables keep working, but a packet must pass this chain too (policy drop).
 * Only nft's built-in keywords (tcp, udp, icmp, icmpv6) and numbers: the file loads without /etc/protocols
 * or /etc/services.
 */
export function renderNftables(rules: Rule[]): string {
  const lines = rules.flatMap((r) => {
    const comment = r.comment ? ` comment "${safeComment(r.comment)}"` : '';
    const match = r.proto === 'vrrp' ? `ip protocol ${VRRP_PROTOCOL}` : `${r.proto} dport ${r.port}`;
    if (r.sources.length === 0) return [`\t\t${match} accept${comment}`];
    const out: string[] = [];
    for (const fam of [4, 6] as const) {
      const srcs = r.sources.filter((s) => family(s) === fam);
      if (srcs.length && !(r.proto === 'vrrp' && fam === 6)) out.push(`\t\t${fam === 4 ? 'ip' : 'ip6'} saddr { ${srcs.join(', ')} } ${match} accept${comment}`);
    }
    return out;
  });
  return `#!/usr/sbin/nft -f
# Managed by provision: inbound filter. Edits are overwritten on the next run.
table ${NFT_TABLE}
delete table ${NFT_TABLE}
table ${NFT_TABLE} {
\tchain input {
\t\ttype filter hook input priority filter; policy drop;
\t\tct state established,related accept
\t\tct state invalid drop
\t\tiif "lo" accept
\t\tmeta l4proto icmp accept
\t\tmeta l4proto icmpv6 accept
${lines.join('\n')}
\t}
}
`;
}

export function planNftables(ctx: HostContext, f: NftablesFacts, rules: Rule[]): Change[] {
  const want = renderNftables(rules);
  const changes: Change[] = [];
  const fileChanged = f.file !== want;
  if (fileChanged) {
    const c: Change = {
      summary: `${f.file === undefined ? 'create' : 'update'} ${NFT_FILE} (allow ${rules.map(describe).join(', ')})`,
      actions: [
        { script: `mkdir -p ${shq(NFT_FILE.replace(/\/[^/]+$/, ''))}` },
        ...writeFileActions({ path: NFT_FILE, data: Buffer.from(want), owner: 'root', group: 'root', mode: '0644', validate: 'nft -c -f %s' }),
      ],
    };
    if (ctx.diff) c.diff = unifiedDiff(f.file ?? '', want, NFT_FILE);
    changes.push(c);
  }
  const conf = ctx.facts.os.family === 'redhat' ? '/etc/sysconfig/nftables.conf' : '/etc/nftables.conf';
  if (!f.includedBy.includes(conf)) {
    const create = f.confFiles.includes(conf) ? '' : `[ -f ${conf} ] || printf '#!/usr/sbin/nft -f\\n' > ${conf}\n`;
    changes.push({ summary: `include ${NFT_FILE} from ${conf} (loaded at boot)`, actions: [{ script: `${create}printf '\\n%s\\n' ${shq(NFT_INCLUDE)} >> ${conf}` }] });
  }
  const why = fileChanged ? 'rules changed' : !f.liveHash ? 'table not loaded' : f.liveHash !== f.loadedHash ? 'live table differs from the file' : undefined;
  if (why) {
    changes.push({
      summary: `load table ${NFT_TABLE} (${why})`,
      actions: [
        {
          script: `set -e
nft -f ${NFT_FILE}
mkdir -p ${NFT_LOADED_HASH_FILE.replace(/\/[^/]+$/, '')}
out=$(nft list table ${NFT_TABLE})
printf '%s\\n' "$out" | sha256sum | cut -c1-64 > ${NFT_LOADED_HASH_FILE}`,
        },
      ],
    });
  }
  if (ctx.facts.init === 'systemd' && f.serviceEnabled !== 'enabled') changes.push({ summary: 'enable nftables at boot', actions: [{ script: 'systemctl enable nftables' }] });
  return changes;
}
