import { createHash } from 'node:crypto';
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
  /** sha256 of the live table's listing (listingDigest); undefined when the table is not loaded. */
  liveHash?: string;
  loadedHash?: string;
  serviceEnabled: string;
}

/**
 * The digest the load action stores in NFT_LOADED_HASH_FILE: sha256 of `printf '%s\n' "$(nft list table …)"`,
 * i.e. the listing with its trailing newlines cut to one. The fact sends the listing (about 1 KB) and the
 * controller digests it: no sha256sum, cut or subshell on the host.
 */
export function listingDigest(listing: string): string {
  return createHash('sha256').update(`${listing.replace(/\n+$/, '')}\n`).digest('hex');
}

const CONF_FILES = '/etc/nftables.conf /etc/sysconfig/nftables.conf';

/**
 * The no-op's check of our firewall, priced in processes (each costs the host ~1 ms of CPU; issue 13): one
 * base64 of our file and one `nft list table` for the live state — everything else is shell builtins. The include
 * line is looked for with `read` (the main files are a few lines; grep -x would be one more process), the loaded
 * digest is read with `read`, and "enabled at boot" is a wants link in /etc/systemd/system while the unit is not
 * masked; without such a link `systemctl is-enabled` (≈ 7 ms) gives the exact answer (disabled, masked, static…).
 */
export const nftablesFact: FactQuery<NftablesFacts> = {
  key: 'firewall:nftables',
  staleAfter: 'files-never',
  script: `echo @@file; if [ -f ${NFT_FILE} ]; then base64 -w0 < ${NFT_FILE}; echo; fi
echo @@conf; for c in ${CONF_FILES}; do [ -f "$c" ] && echo "$c"; done
echo @@include; for c in ${CONF_FILES}; do [ -f "$c" ] || continue
  while IFS= read -r l || [ -n "$l" ]; do if [ "$l" = ${shq(NFT_INCLUDE)} ]; then echo "$c"; break; fi; done < "$c"
done
echo @@listing; nft list table ${NFT_TABLE} 2>/dev/null
echo @@loaded; { IFS= read -r h && echo "$h"; } 2>/dev/null < ${NFT_LOADED_HASH_FILE}
echo @@enabled; set -- /etc/systemd/system/*.wants/nftables.service
if [ -e "$1" ] && ! [ /etc/systemd/system/nftables.service -ef /dev/null ] && ! [ /run/systemd/system/nftables.service -ef /dev/null ]; then echo enabled
else systemctl is-enabled nftables 2>/dev/null; fi
true`,
  parse: (stdout) => {
    const s = splitSections(stdout);
    const b64 = (s.get('file') ?? '').trim();
    const listing = s.get('listing') ?? '';
    return {
      file: b64 ? Buffer.from(b64, 'base64').toString('utf8') : undefined,
      includedBy: sectionLines(s, 'include'),
      confFiles: sectionLines(s, 'conf'),
      liveHash: listing.trim() ? listingDigest(listing) : undefined,
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
