import { StepError } from '../errors.js';
import type { Transport } from '../transport/types.js';
import type { HostFacts } from './host-facts.js';

/** One script, one round trip: everything in HostFacts as key=value lines. */
export const HOST_FACTS_SCRIPT = String.raw`
. /etc/os-release 2>/dev/null
echo "os_id=$ID"; echo "os_version=$VERSION_ID"; echo "os_like=$ID_LIKE"; echo "os_pretty=$PRETTY_NAME"
echo "arch=$(uname -m)"
echo "hostname=$(hostname 2>/dev/null || cat /proc/sys/kernel/hostname)"
echo "fqdn=$(hostname -f 2>/dev/null || hostname)"
echo "multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || gcc -print-multiarch 2>/dev/null || echo "$(uname -m)-linux-gnu")"
if [ -d /run/systemd/system ]; then echo init=systemd; else echo init=sysv; fi
command -v apt-get >/dev/null && echo pm=apt
command -v dnf >/dev/null && echo pm=dnf
command -v firewall-cmd >/dev/null && echo fw_firewalld=1
if command -v firewall-cmd >/dev/null && firewall-cmd --state >/dev/null 2>&1; then echo fw_firewalld_running=1; fi
command -v ufw >/dev/null && echo fw_ufw=1
command -v nft >/dev/null && echo fw_nft=1
if command -v getenforce >/dev/null; then echo "selinux=$(getenforce | tr A-Z a-z)"; fi
echo "user=$(id -un)"
ip -o route get 1.1.1.1 2>/dev/null | sed -n 's/.* src \([0-9.]*\).*/primary=\1/p'
ip -o addr show scope global 2>/dev/null | awk '{print "addr=" $4}'
`;

export async function gatherHostFacts(t: Transport): Promise<HostFacts> {
  const r = await t.script(HOST_FACTS_SCRIPT);
  return parseHostFacts(t.host, r.stdout);
}

export function parseHostFacts(host: string, out: string): HostFacts {
  const kv = new Map<string, string[]>();
  for (const line of out.split('\n')) {
    const i = line.indexOf('=');
    if (i <= 0) continue;
    const k = line.slice(0, i);
    kv.set(k, [...(kv.get(k) ?? []), line.slice(i + 1)]);
  }
  const one = (k: string) => kv.get(k)?.[0] ?? '';
  const id = one('os_id');
  const version = one('os_version');
  const major = Number.parseInt(version, 10);
  const supported = (id === 'debian' && major === 12) || (id === 'rocky' && major === 9);
  if (!supported)
    throw new StepError(`[${host}] unsupported operating system "${one('os_pretty') || id || 'unknown'}": provision supports Debian 12 and Rocky Linux 9`);
  const addresses = (kv.get('addr') ?? []).map((a) => a.split('/')[0]!).filter(Boolean);
  const primary = one('primary') || addresses[0] || '';
  const ordered = [primary, ...addresses.filter((a) => a !== primary)].filter(Boolean);
  const selinux = one('selinux');
  return {
    hostname: one('hostname'),
    fqdn: one('fqdn') || one('hostname'),
    os: { id: id as 'debian' | 'rocky', version, major, family: id === 'debian' ? 'debian' : 'redhat', pretty: one('os_pretty') },
    arch: one('arch'),
    multiarch: one('multiarch'),
    init: one('init') === 'systemd' ? 'systemd' : 'sysv',
    packageManager: (kv.get('pm') ?? []).includes('dnf') && id === 'rocky' ? 'dnf' : 'apt',
    firewall: { firewalld: one('fw_firewalld') === '1', firewalldRunning: one('fw_firewalld_running') === '1', ufw: one('fw_ufw') === '1', nft: one('fw_nft') === '1' },
    selinux: (['enforcing', 'permissive', 'disabled'].includes(selinux) ? selinux : 'absent') as HostFacts['selinux'],
    addresses: ordered,
    primaryAddress: primary,
    user: one('user'),
  };
}
