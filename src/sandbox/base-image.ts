// The shared, read-only lower layer of every host: a cached `debootstrap --variant=minbase bookworm`
// tree with the packages a small bare Debian server has.
import { createHash } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  symlinkSync,
  unlinkSync,
  writeFileSync,
  lstatSync,
  chownSync,
  chmodSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { exec, pidAlive } from './exec.js';
import { removeTree } from './fsutil.js';
import { withLock } from './lock.js';
import {
  APT_PROXY_URL,
  BASE_DIR,
  CACHE_ROOT,
  DEBIAN_MIRROR,
  DEBIAN_SECURITY_MIRROR,
} from './paths.js';
import { listStates } from './state.js';

export const BASE_PACKAGES = [
  'systemd',
  'systemd-sysv',
  'dbus',
  'libpam-systemd',
  'openssh-server',
  'sudo',
  'python3',
  'iproute2',
  'iputils-ping',
  'nftables',
  'procps',
  'kmod',
  'less',
  'vim-tiny',
  'curl',
  'ca-certificates',
  'netbase',
  'cron',
  'logrotate',
];

/** Bump when customizeBase() changes so cached trees are rebuilt (when no sandbox uses them). */
const CUSTOMIZATION_VERSION = 1;

/** Units that slow down a container boot or make no sense without hardware. */
export const MASKED_UNITS = [
  'systemd-networkd-wait-online.service',
  'apt-daily.timer',
  'apt-daily-upgrade.timer',
  'e2scrub_all.timer',
  'e2scrub_reap.service',
  'fstrim.timer',
  'console-getty.service',
  'getty@tty1.service',
  'systemd-timesyncd.service',
];

const STAMP = `${BASE_DIR}.json`;

export function baseRecipeHash(): string {
  return createHash('sha256')
    .update(JSON.stringify({ release: 'bookworm', BASE_PACKAGES, MASKED_UNITS, CUSTOMIZATION_VERSION, DEBIAN_MIRROR }))
    .digest('hex')
    .slice(0, 16);
}

function readStamp(): { recipe?: string } | undefined {
  try {
    return JSON.parse(readFileSync(STAMP, 'utf8')) as { recipe?: string };
  } catch {
    return undefined;
  }
}

function writeFile(root: string, path: string, content: string, mode = 0o644): void {
  const p = join(root, path);
  mkdirSync(dirname(p), { recursive: true });
  writeFileSync(p, content, { mode });
}

function removeIfExists(p: string): void {
  try {
    lstatSync(p);
  } catch {
    return;
  }
  rmSync(p, { recursive: true, force: true });
}

function emptyDir(dir: string): void {
  if (!existsSync(dir)) return;
  for (const e of readdirSync(dir)) removeIfExists(join(dir, e));
}

/** Host-independent configuration written into the base tree after debootstrap. */
function customizeBase(root: string): void {
  // apt: the usual Debian sources, fetched through the sandbox's apt-cacher-ng.
  removeIfExists(join(root, 'etc/apt/sources.list'));
  writeFile(
    root,
    'etc/apt/sources.list',
    [
      `deb ${DEBIAN_MIRROR} bookworm main`,
      `deb ${DEBIAN_MIRROR} bookworm-updates main`,
      `deb ${DEBIAN_SECURITY_MIRROR} bookworm-security main`,
      '',
    ].join('\n'),
  );
  writeFile(root, 'etc/apt/apt.conf.d/01proxy', `Acquire::http::Proxy "${APT_PROXY_URL}";\n`);
  // A bare host has no package lists: the first apt-get update fetches them.
  const lists = join(root, 'var/lib/apt/lists');
  for (const e of existsSync(lists) ? readdirSync(lists) : []) {
    if (e === 'partial') emptyDir(join(lists, e));
    else removeIfExists(join(lists, e));
  }
  for (const f of readdirSync(join(root, 'var/cache/apt'))) {
    if (f.endsWith('.bin')) removeIfExists(join(root, 'var/cache/apt', f));
  }
  const archives = join(root, 'var/cache/apt/archives');
  if (existsSync(archives)) {
    for (const f of readdirSync(archives)) if (f.endsWith('.deb')) removeIfExists(join(archives, f));
  }
  // apt downloads as user _apt into the partial directories.
  const aptUser = /^_apt:x:(\d+):/m.exec(readFileSync(join(root, 'etc/passwd'), 'utf8'));
  for (const d of ['var/lib/apt/lists/partial', 'var/cache/apt/archives/partial']) {
    mkdirSync(join(root, d), { recursive: true });
    if (aptUser) chownSync(join(root, d), Number(aptUser[1]), 0);
    chmodSync(join(root, d), 0o700);
  }

  // ssh: keys are generated per host; root logs in with a key only.
  for (const f of readdirSync(join(root, 'etc/ssh'))) {
    if (f.startsWith('ssh_host_')) removeIfExists(join(root, 'etc/ssh', f));
  }
  writeFile(
    root,
    'etc/ssh/sshd_config.d/50-provision-sandbox.conf',
    [
      '# provision sandbox host',
      'PermitRootLogin prohibit-password',
      'HostKey /etc/ssh/ssh_host_ed25519_key',
      'HostKey /etc/ssh/ssh_host_ecdsa_key',
      'UseDNS no',
      '',
    ].join('\n'),
  );

  // Identity is per host (written into each host's overlay before boot).
  writeFileSync(join(root, 'etc/machine-id'), '');
  removeIfExists(join(root, 'var/lib/dbus/machine-id'));
  mkdirSync(join(root, 'var/lib/dbus'), { recursive: true });
  symlinkSync('/etc/machine-id', join(root, 'var/lib/dbus/machine-id'));
  removeIfExists(join(root, 'etc/hostname'));
  removeIfExists(join(root, 'etc/resolv.conf'));
  writeFile(root, 'etc/fstab', '# provision sandbox host: the root file system is set up by systemd-nspawn\n');
  removeIfExists(join(root, 'usr/sbin/policy-rc.d'));

  for (const unit of MASKED_UNITS) {
    const p = join(root, 'etc/systemd/system', unit);
    removeIfExists(p);
    mkdirSync(dirname(p), { recursive: true });
    symlinkSync('/dev/null', p);
  }
  // Keep the journal small: dozens of hosts share this machine.
  writeFile(root, 'etc/systemd/journald.conf.d/50-provision-sandbox.conf', '[Journal]\nSystemMaxUse=32M\nRuntimeMaxUse=16M\n');
}

async function cleanStaleBuilds(): Promise<void> {
  if (!existsSync(CACHE_ROOT)) return;
  for (const e of readdirSync(CACHE_ROOT)) {
    const m = /^bookworm-base\.(?:tmp|old)-(\d+)$/.exec(e);
    if (m && !pidAlive(Number(m[1]))) await removeTree(join(CACHE_ROOT, e));
  }
}

/** Returns the base tree, building it first when missing (≈1 min). */
export async function ensureBaseImage(log: (line: string) => void = () => {}): Promise<string> {
  const recipe = baseRecipeHash();
  const usable = () => existsSync(join(BASE_DIR, 'usr/lib/systemd/systemd')) && readStamp() !== undefined;
  if (usable() && readStamp()?.recipe === recipe) return BASE_DIR;
  return withLock('base-image', async () => {
    const stamp = readStamp();
    if (usable() && stamp?.recipe === recipe) return BASE_DIR;
    if (usable() && listStates().some((s) => s.hosts.length > 0)) {
      log(`base tree ${BASE_DIR} was built from an older recipe; keeping it while sandboxes use it`);
      return BASE_DIR;
    }
    mkdirSync(CACHE_ROOT, { recursive: true });
    await cleanStaleBuilds();
    const tmp = join(CACHE_ROOT, `bookworm-base.tmp-${process.pid}`);
    await removeTree(tmp);
    const started = Date.now();
    log(`building base tree (debootstrap --variant=minbase bookworm, ~1 min) in ${BASE_DIR}`);
    const r = await exec('debootstrap', [
      '--variant=minbase',
      `--include=${BASE_PACKAGES.join(',')}`,
      '--components=main',
      'bookworm',
      tmp,
      DEBIAN_MIRROR,
    ]);
    if (r.code !== 0) {
      const logFile = join(tmp, 'debootstrap/debootstrap.log');
      const tail = existsSync(logFile) ? readFileSync(logFile, 'utf8').split('\n').slice(-30).join('\n') : '';
      await removeTree(tmp);
      throw new Error(`debootstrap failed (exit ${r.code}):\n${r.stderr.trim()}\n${tail}`);
    }
    customizeBase(tmp);
    if (existsSync(BASE_DIR)) {
      const old = join(CACHE_ROOT, `bookworm-base.old-${process.pid}`);
      renameSync(BASE_DIR, old);
      await removeTree(old);
    }
    if (existsSync(STAMP)) unlinkSync(STAMP);
    renameSync(tmp, BASE_DIR);
    writeFileSync(STAMP, JSON.stringify({ recipe, builtAt: new Date().toISOString(), packages: BASE_PACKAGES }, null, 2) + '\n');
    log(`base tree ready in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    return BASE_DIR;
  });
}
