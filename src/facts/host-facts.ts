export type OsFamily = 'debian' | 'redhat';

/** What every step may assume about a host; gathered in one round trip when the host connects. */
export interface HostFacts {
  hostname: string;
  fqdn: string;
  os: { id: 'debian' | 'rocky'; version: string; major: number; family: OsFamily; pretty: string };
  /** `uname -m`: x86_64, aarch64. */
  arch: string;
  /** Debian multiarch triplet dir, e.g. x86_64-linux-gnu (plugin paths). */
  multiarch: string;
  init: 'systemd' | 'sysv';
  packageManager: 'apt' | 'dnf';
  firewall: { firewalld: boolean; firewalldRunning: boolean; ufw: boolean; nft: boolean };
  selinux: 'enforcing' | 'permissive' | 'disabled' | 'absent';
  /** Global addresses, primary (default-route source) first. */
  addresses: string[];
  primaryAddress: string;
  /** Remote user we connected as, and whether commands run as root (directly or via become). */
  user: string;
}
