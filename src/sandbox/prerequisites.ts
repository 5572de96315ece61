// Checks that this machine can run sandboxes, installing missing Debian packages with apt-get.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { installDebianPackages } from '../controller/packages.js';

/** Debian package → a file it provides (to check quickly without dpkg when possible). */
export const REQUIRED_PACKAGES: Record<string, string> = {
  debootstrap: '/usr/sbin/debootstrap',
  'systemd-container': '/usr/bin/systemd-nspawn',
  'apt-cacher-ng': '/usr/sbin/apt-cacher-ng',
  nftables: '/usr/sbin/nft',
  iproute2: '/usr/sbin/ip',
  'openssh-client': '/usr/bin/ssh-keygen',
  'util-linux': '/usr/bin/nsenter',
};

let checked = false;

export class PrerequisiteError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PrerequisiteError';
  }
}

/** Throws a clear error when the sandbox cannot work here at all (not Linux, not root). */
export function assertPlatform(): void {
  if (process.platform !== 'linux') {
    throw new PrerequisiteError(
      `the sandbox needs Linux (network namespaces, overlayfs, systemd-nspawn); this is ${process.platform}`,
    );
  }
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) {
    throw new PrerequisiteError('the sandbox must run as root (it creates network namespaces, bridges, mounts and containers)');
  }
  if (!existsSync('/etc/debian_version')) {
    throw new PrerequisiteError('the sandbox expects a Debian (12) machine: debootstrap, systemd-nspawn and apt-cacher-ng come from apt');
  }
}

/** Ensures platform and packages; installs missing packages (apt-get update first) and reports it. */
export async function ensurePrerequisites(log: (line: string) => void = () => {}): Promise<void> {
  assertPlatform();
  if (checked) return;
  const missing: string[] = [];
  for (const [pkg, file] of Object.entries(REQUIRED_PACKAGES)) {
    // The file the sandbox uses is the evidence (fast: no dpkg call per run).
    if (!existsSync(file)) missing.push(pkg);
  }
  if (missing.length > 0) {
    // Installing apt-cacher-ng may start the distribution's own daemon on port 3142: it is left alone,
    // the sandbox runs a private instance on another port.
    await installDebianPackages(missing, { log });
  }
  raiseInotifyLimits(log);
  const cg = '/sys/fs/cgroup';
  if (!existsSync(`${cg}/systemd`) && !existsSync(`${cg}/cgroup.controllers`)) {
    throw new PrerequisiteError(
      `no usable cgroup hierarchy found (need ${cg}/systemd (named v1) or a cgroup v2 mount at ${cg})`,
    );
  }
  checked = true;
}

/**
 * Every host's systemd takes inotify instances from the machine's per-user budget (128 by default), so a
 * few sandboxes at once make PID 1 of a new host die with "Too many open files". Raise the limits.
 */
function raiseInotifyLimits(log: (line: string) => void): void {
  const wanted: Record<string, number> = { max_user_instances: 8192, max_user_watches: 524288 };
  for (const [name, value] of Object.entries(wanted)) {
    const file = `/proc/sys/fs/inotify/${name}`;
    try {
      if (Number(readFileSync(file, 'utf8').trim()) >= value) continue;
      writeFileSync(file, `${value}\n`);
      log(`raised fs.inotify.${name} to ${value} (systemd in every sandbox host needs inotify instances)`);
    } catch {
      log(`could not raise fs.inotify.${name}; many sandbox hosts at once may fail to boot`);
    }
  }
}
