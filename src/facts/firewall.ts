import type { FactQuery } from './query.js';
import { shq } from '../transport/shell-quote.js';
import { keyValues, sectionLines, splitSections } from './sections.js';

export const NFT_FILE = '/etc/nftables.d/provision.nft';
export const NFT_TABLE = 'inet provision';
/** sha256 of `nft list table inet provision` right after we loaded it: tells live drift from our own load. */
export const NFT_LOADED_HASH_FILE = '/var/lib/provision/nftables.sha256';
export const NFT_INCLUDE = `include "${NFT_FILE}"`;

export interface NftablesFacts {
  /** Our rules file, undefined when missing. */
  file?: string;
  /** Main configuration files (Debian /etc/nftables.conf, Rocky /etc/sysconfig/nftables.conf) that include it. */
  includedBy: string[];
  /** Configuration files that exist. */
  confFiles: string[];
  /** sha256 of the live table's listing; undefined when the table is not loaded. */
  liveHash?: string;
  loadedHash?: string;
  serviceEnabled: string;
}

export const nftablesFact: FactQuery<NftablesFacts> = {
  key: 'firewall:nftables',
  staleAfter: 'files-never',
  script: `echo @@file; if [ -f ${NFT_FILE} ]; then base64 -w0 < ${NFT_FILE}; echo; fi
echo @@conf; for c in /etc/nftables.conf /etc/sysconfig/nftables.conf; do [ -f "$c" ] && echo "$c"; done
echo @@include; grep -lxF ${shq(NFT_INCLUDE)} /etc/nftables.conf /etc/sysconfig/nftables.conf 2>/dev/null
echo @@live; out=$(nft list table ${NFT_TABLE} 2>/dev/null) && printf '%s\\n' "$out" | sha256sum | cut -c1-64
echo @@loaded; cat ${NFT_LOADED_HASH_FILE} 2>/dev/null
echo @@enabled; systemctl is-enabled nftables 2>/dev/null
true`,
  parse: (stdout) => {
    const s = splitSections(stdout);
    const b64 = (s.get('file') ?? '').trim();
    return {
      file: b64 ? Buffer.from(b64, 'base64').toString('utf8') : undefined,
      includedBy: sectionLines(s, 'include'),
      confFiles: sectionLines(s, 'conf'),
      liveHash: sectionLines(s, 'live')[0]?.trim() || undefined,
      loadedHash: sectionLines(s, 'loaded')[0]?.trim() || undefined,
      serviceEnabled: sectionLines(s, 'enabled')[0]?.trim() ?? '',
    };
  },
};

export interface UfwTuple {
  family: 4 | 6;
  action: string;
  proto: string;
  dport: string;
  dst: string;
  sport: string;
  src: string;
  direction: string;
  comment: string;
}

export interface UfwFacts {
  installed: boolean;
  active: boolean;
  /** /etc/default/ufw DEFAULT_INPUT_POLICY (DROP, REJECT, ACCEPT). */
  inputPolicy: string;
  ipv6: boolean;
  /** Rules as ufw stores them (`### tuple ###` lines of user.rules / user6.rules). */
  rules: UfwTuple[];
}

export const ufwFact: FactQuery<UfwFacts> = {
  key: 'firewall:ufw',
  staleAfter: 'files-never',
  script: `if command -v ufw >/dev/null 2>&1; then
echo @@installed; echo yes
echo @@status; ufw status 2>/dev/null | head -n 1
echo @@defaults; grep -E '^(DEFAULT_INPUT_POLICY|IPV6)=' /etc/default/ufw 2>/dev/null
echo @@conf; grep -E '^ENABLED=' /etc/ufw/ufw.conf 2>/dev/null
echo @@v4; grep '^### tuple ###' /etc/ufw/user.rules 2>/dev/null
echo @@v6; grep '^### tuple ###' /etc/ufw/user6.rules 2>/dev/null
fi
true`,
  parse: (stdout) => {
    const s = splitSections(stdout);
    const defaults = keyValues(s.get('defaults') ?? '');
    const unq = (v?: string) => (v ?? '').replace(/^"|"$/g, '');
    const conf = keyValues(s.get('conf') ?? '');
    return {
      installed: s.has('installed'),
      active: /^Status: active/m.test(s.get('status') ?? '') && unq(conf.get('ENABLED')) === 'yes',
      inputPolicy: unq(defaults.get('DEFAULT_INPUT_POLICY')) || 'DROP',
      ipv6: unq(defaults.get('IPV6') ?? 'yes') === 'yes',
      rules: [...parseTuples(sectionLines(s, 'v4'), 4), ...parseTuples(sectionLines(s, 'v6'), 6)],
    };
  },
};

function parseTuples(lines: string[], family: 4 | 6): UfwTuple[] {
  const out: UfwTuple[] = [];
  for (const line of lines) {
    const words = line.replace(/^### tuple ###\s*/, '').trim().split(/\s+/);
    const comment = words.find((w) => w.startsWith('comment='));
    const fields = words.filter((w) => !w.startsWith('comment='));
    if (fields.length !== 7) continue; // application rules have 9 fields: never ours
    const [action, proto, dport, dst, sport, src, direction] = fields as [string, string, string, string, string, string, string];
    out.push({ family, action, proto, dport, dst, sport, src, direction, comment: comment ? Buffer.from(comment.slice(8), 'hex').toString('utf8') : '' });
  }
  return out;
}

export interface FirewalldZoneState {
  target: string;
  ports: string[];
  services: string[];
  richRules: string[];
}

export interface FirewalldFacts {
  /** running: firewalld answers; offline: installed, not running; missing: not installed. */
  state: 'running' | 'offline' | 'missing';
  defaultZone: string;
  permanent: FirewalldZoneState;
  /** The live configuration (running only): differs from permanent when a reload is pending. */
  runtime?: Omit<FirewalldZoneState, 'target'>;
  serviceEnabled: string;
}

/** The zone's permanent (or offline) configuration, and its runtime one when firewalld runs. */
export function firewalldFact(zone: string): FactQuery<FirewalldFacts> {
  const z = shq(`--zone=${zone}`);
  const lists = (fc: string, prefix: string) =>
    `echo @@${prefix}ports; ${fc} ${z} --list-ports
echo @@${prefix}services; ${fc} ${z} --list-services
echo @@${prefix}rich; ${fc} ${z} --list-rich-rules`;
  return {
    key: `firewall:firewalld:${zone}`,
    staleAfter: 'files-never',
    script: `if command -v firewall-cmd >/dev/null 2>&1 && firewall-cmd --state >/dev/null 2>&1; then
echo @@state; echo running
echo @@default; firewall-cmd --get-default-zone
echo @@target; firewall-cmd --permanent ${z} --get-target
${lists('firewall-cmd --permanent', '')}
${lists('firewall-cmd', 'runtime-')}
elif command -v firewall-offline-cmd >/dev/null 2>&1; then
echo @@state; echo offline
echo @@default; firewall-offline-cmd --get-default-zone
echo @@target; firewall-offline-cmd ${z} --get-target
${lists('firewall-offline-cmd', '')}
else
echo @@state; echo missing
fi
echo @@enabled; systemctl is-enabled firewalld 2>/dev/null
true`,
    parse: (stdout) => {
      const s = splitSections(stdout);
      const state = (s.get('state') ?? '').trim() as FirewalldFacts['state'];
      const words = (k: string) => (s.get(k) ?? '').trim().split(/\s+/).filter(Boolean);
      if (state !== 'running' && state !== 'offline') {
        // Not installed: what the package will start with (Rocky 9's public zone).
        return {
          state: 'missing',
          defaultZone: 'public',
          permanent: { target: 'default', ports: [], services: ['cockpit', 'dhcpv6-client', 'ssh'], richRules: [] },
          serviceEnabled: sectionLines(s, 'enabled')[0]?.trim() ?? '',
        };
      }
      const facts: FirewalldFacts = {
        state,
        defaultZone: (s.get('default') ?? '').trim(),
        permanent: { target: (s.get('target') ?? '').trim(), ports: words('ports'), services: words('services'), richRules: sectionLines(s, 'rich') },
        serviceEnabled: sectionLines(s, 'enabled')[0]?.trim() ?? '',
      };
      if (state === 'running') facts.runtime = { ports: words('runtime-ports'), services: words('runtime-services'), richRules: sectionLines(s, 'runtime-rich') };
      return facts;
    },
  };
}
