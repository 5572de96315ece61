import type { Change, RemoteAction, Step, StepPlan } from '../engine/types.js';
import { type InstalledPackage, type PackageFacts, type PackageLists, type PackageManager, packageListsFact, packagesFact, upgradableFact } from '../facts/package.js';
import { checkName } from '../facts/sections.js';
import { shq } from '../transport/shell-quote.js';

export interface PackagesOptions {
  names: string[];
  /** present (default): installed at any version; latest: upgraded to the candidate; absent: removed (not purged). */
  state?: 'present' | 'latest' | 'absent';
  /** Exact versions: Debian `1.2-3` (apt `pkg=ver`) or rpm `1.2` / `1.2-3.el9` (dnf `pkg-ver`). */
  versions?: Record<string, string>;
  /** auto (default): refresh lists before installing when missing or older than cacheValidSeconds. */
  updateCache?: 'auto' | 'always' | 'never';
  cacheValidSeconds?: number;
  name?: string;
  notify?: string[];
  tags?: string[];
}

const INSTALL_TIMEOUT_MS = 30 * 60_000;
const REFRESH_TIMEOUT_MS = 10 * 60_000;
const APT = 'DEBIAN_FRONTEND=noninteractive apt-get -q -o DPkg::Lock::Timeout=300';
const APT_INSTALL_OPTS = '-y -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold --no-install-recommends';

/**
 * `apt-get update` with a bound per attempt, tried 3 times: a mirror or proxy that stops answering mid-download can
 * leave apt waiting for good (seen with apt-cacher-ng closing a connection during a concurrent refresh); a fresh
 * attempt gets through. An attempt ends at its bound, or sooner when it stalls: nothing under the lists directory
 * changed for `stallSeconds` (a download in progress grows a file there, so a slow mirror is never cut off).
 * apt's own Acquire::http::Timeout does not catch that stall (tried: 10 s, the attempt still hung 200 s). Only an
 * ended attempt (bound or stall) is retried; apt's own errors fail at once.
 */
const APT_UPDATE_ATTEMPT_SECONDS = 150;
const APT_UPDATE_STALL_SECONDS = 20;
export const aptUpdateScript = (attemptSeconds = APT_UPDATE_ATTEMPT_SECONDS, stallSeconds = APT_UPDATE_STALL_SECONDS, lists = '/var/lib/apt/lists'): string =>
  [
    `f=$(mktemp); trap 'rm -f "$f"' EXIT; n=0`,
    'while :; do',
    '  n=$((n+1)); : > "$f"',
    `  timeout -k 10 ${attemptSeconds} env ${APT} update & p=$!`,
    // The watchdog: its own sleeps hold no output open, so the channel closes as soon as apt ends.
    `  ( last=; still=0; while sleep 1 </dev/null >/dev/null 2>&1; do kill -0 $p 2>/dev/null || exit 0; now=$(du -sb ${shq(lists)} 2>/dev/null); ` +
      `if [ "$now" = "$last" ]; then still=$((still+1)); else still=0; last=$now; fi; ` +
      `if [ $still -ge ${stallSeconds} ]; then echo stalled > "$f"; kill $p; exit 0; fi; done ) & w=$!`,
    '  wait $p; rc=$?; kill $w 2>/dev/null; wait $w 2>/dev/null',
    '  [ $rc -eq 0 ] && break',
    `  if [ -s "$f" ]; then why="nothing arrived for ${stallSeconds} s"; elif [ $rc -eq 124 ] || [ $rc -eq 137 ]; then why="no answer within ${attemptSeconds} s"; else exit $rc; fi`,
    '  [ $n -ge 3 ] && exit 124',
    '  echo "apt-get update: $why (attempt $n of 3), trying again" >&2',
    'done',
  ].join('\n');

export const packageCommands = {
  refresh: (pm: PackageManager) => (pm === 'apt' ? aptUpdateScript() : 'dnf -q -y makecache --refresh'),
  install: (pm: PackageManager, specs: string[], downgrades = false) =>
    pm === 'apt'
      ? `${APT} install ${APT_INSTALL_OPTS}${downgrades ? ' --allow-downgrades' : ''} ${specs.map(shq).join(' ')}`
      : `dnf -q -y install ${specs.map(shq).join(' ')}`,
  upgrade: (pm: PackageManager, names: string[]) =>
    pm === 'apt' ? packageCommands.install(pm, names) : `dnf -q -y upgrade ${names.map(shq).join(' ')}`,
  remove: (pm: PackageManager, names: string[]) => (pm === 'apt' ? `${APT} remove -y ${names.map(shq).join(' ')}` : `dnf -q -y remove ${names.map(shq).join(' ')}`),
  fullUpgrade: (pm: PackageManager) =>
    pm === 'apt' ? `${APT} ${APT_INSTALL_OPTS.replace(' --no-install-recommends', '')} dist-upgrade` : 'dnf -q -y upgrade',
};

/** Install, upgrade or remove packages: one fact query for all of them, nothing run when they are as wanted. */
export function packages(opts: PackagesOptions): Step {
  const state = opts.state ?? 'present';
  const versions = opts.versions ?? {};
  const names = [...new Set([...opts.names, ...Object.keys(versions)])].map((n) => checkName('package', n));
  if (names.length === 0) throw new Error('packages: no package names given');
  if (state === 'absent' && Object.keys(versions).length > 0) throw new Error('packages: versions make no sense with state absent');
  const fact = packagesFact(names, { latest: state === 'latest' });
  return {
    name: opts.name ?? `packages ${state === 'present' ? '' : `${state} `}${names.join(', ')}`,
    factsOnly: true,
    notify: opts.notify,
    tags: opts.tags,
    facts: [fact, packageListsFact],
    plan(_ctx, facts) {
      return planPackages(facts.get(fact), facts.get(packageListsFact).lists, { ...opts, names, state, versions });
    },
  };
}

function planPackages(f: PackageFacts, lists: PackageLists, o: Required<Pick<PackagesOptions, 'names' | 'state' | 'versions'>> & PackagesOptions): StepPlan {
  const pm = f.manager;
  if (o.state === 'absent') {
    const present = o.names.filter((n) => f.installed.has(n));
    if (present.length === 0) return { changes: [] };
    const real = [...new Set(present.map((n) => f.installed.get(n)!.name))];
    return { changes: [{ summary: `remove ${real.join(', ')}`, actions: [{ script: packageCommands.remove(pm, real), timeoutMs: INSTALL_TIMEOUT_MS }] }] };
  }

  const install: string[] = [];
  const upgrade: string[] = [];
  const notes: string[] = [];
  let downgrades = false;
  let unknownCandidates = false;
  for (const n of o.names) {
    const have = f.installed.get(n);
    const pin = o.versions[n];
    if (pin !== undefined) {
      if (have && versionMatches(pm, have, pin)) continue;
      install.push(pm === 'apt' ? `${n}=${pin}` : `${n}-${pin}`);
      notes.push(have ? `${n} ${have.version} → ${pin}` : `${n}=${pin}`);
      if (have) downgrades = true;
    } else if (!have) {
      install.push(n);
      notes.push(n);
    } else if (o.state === 'latest') {
      const outdated = latestOutdated(f, lists, n, have);
      if (outdated === 'unknown') unknownCandidates = true;
      if (outdated) {
        upgrade.push(pm === 'dnf' ? have.name : n);
        notes.push(typeof outdated === 'string' && outdated !== 'unknown' ? `${n} ${have.version} → ${outdated}` : `${n} (upgrade if newer)`);
      }
    }
  }

  const changes: Change[] = [];
  const mustInstall = install.length + upgrade.length > 0;
  const refresh = refreshReason(lists, o.updateCache ?? 'auto', o.cacheValidSeconds ?? 3600, mustInstall || unknownCandidates);
  if (refresh) changes.push({ summary: `refresh package lists (${refresh})`, actions: [{ script: packageCommands.refresh(pm), timeoutMs: REFRESH_TIMEOUT_MS }] });
  if (mustInstall) {
    const actions: RemoteAction[] = [];
    // apt: `install` of an installed package upgrades it to the candidate, so one command does both.
    if (pm === 'apt') actions.push({ script: packageCommands.install(pm, [...install, ...upgrade], downgrades), timeoutMs: INSTALL_TIMEOUT_MS });
    else {
      if (install.length) actions.push({ script: packageCommands.install(pm, install), timeoutMs: INSTALL_TIMEOUT_MS });
      if (upgrade.length) actions.push({ script: packageCommands.upgrade(pm, upgrade), timeoutMs: INSTALL_TIMEOUT_MS });
    }
    const verb = install.length && upgrade.length ? 'install/upgrade' : install.length ? 'install' : 'upgrade';
    changes.push({ summary: `${verb} ${notes.join(', ')}`, actions });
  }
  return { changes };
}

/** false = up to date; a version string = the newer candidate; true/'unknown' = cannot tell, so upgrade. */
function latestOutdated(f: PackageFacts, lists: PackageLists, name: string, have: InstalledPackage): string | boolean | 'unknown' {
  if (f.manager === 'apt') {
    if (!lists.present || !f.candidates) return 'unknown';
    const cand = f.candidates.get(name);
    return cand !== undefined && cand !== have.version ? cand : false;
  }
  if (f.updates === undefined || f.updates === 'unknown') return 'unknown';
  return f.updates.has(have.name) || f.updates.has(name);
}

function versionMatches(pm: PackageManager, have: InstalledPackage, pin: string): boolean {
  if (pm === 'apt') return have.version === pin;
  const noEpoch = have.version.replace(/^\d+:/, '');
  return [have.version, noEpoch].some((v) => v === pin || v.startsWith(`${pin}-`));
}

function refreshReason(lists: PackageLists, mode: 'auto' | 'always' | 'never', validSeconds: number, needed: boolean): string | undefined {
  if (mode === 'never') return undefined;
  if (mode === 'always') return 'always';
  if (!needed) return undefined;
  if (!lists.present) return 'never refreshed';
  if (lists.ageSeconds !== undefined && lists.ageSeconds > validSeconds) return `${formatAge(lists.ageSeconds)} old`;
  return undefined;
}

function formatAge(s: number): string {
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.round(s / 60)} min`;
  if (s < 172800) return `${Math.round(s / 3600)} h`;
  return `${Math.round(s / 86400)} days`;
}

/** Refresh the package lists (apt-get update / dnf makecache) only when missing or older than maxAgeSeconds. */
export function packageListsRefreshed(opts: { maxAgeSeconds?: number; name?: string; tags?: string[] } = {}): Step {
  const max = opts.maxAgeSeconds ?? 3600;
  return {
    name: opts.name ?? 'package lists refreshed',
    factsOnly: true,
    tags: opts.tags,
    facts: [packageListsFact],
    plan(_ctx, facts) {
      const { manager, lists } = facts.get(packageListsFact);
      const why = !lists.present ? 'never refreshed' : lists.ageSeconds !== undefined && lists.ageSeconds > max ? `${formatAge(lists.ageSeconds)} old` : undefined;
      if (!why) return { changes: [] };
      return { changes: [{ summary: `refresh package lists (${why})`, actions: [{ script: packageCommands.refresh(manager), timeoutMs: REFRESH_TIMEOUT_MS }] }] };
    },
  };
}

/**
 * Full upgrade (apt-get dist-upgrade / dnf upgrade), changed only when the simulation lists something.
 * It reads the lists as they are: refresh them in an earlier phase (packageListsRefreshed) to see new updates.
 */
export function systemUpgraded(opts: { name?: string; notify?: string[]; tags?: string[] } = {}): Step {
  return {
    name: opts.name ?? 'system upgraded',
    factsOnly: true,
    notify: opts.notify,
    tags: opts.tags,
    facts: [upgradableFact],
    plan(_ctx, facts) {
      const { manager, lists, upgradable } = facts.get(upgradableFact);
      if (Array.isArray(upgradable) && upgradable.length === 0) return { changes: [] };
      const changes: Change[] = [];
      if (manager === 'apt' && !lists.present)
        changes.push({ summary: 'refresh package lists (never refreshed)', actions: [{ script: packageCommands.refresh(manager), timeoutMs: REFRESH_TIMEOUT_MS }] });
      const what = upgradable === 'unknown' ? 'all packages (pending updates unknown)' : `${upgradable.length} package(s): ${abbreviate(upgradable)}`;
      changes.push({ summary: `upgrade ${what}`, actions: [{ script: packageCommands.fullUpgrade(manager), timeoutMs: INSTALL_TIMEOUT_MS }] });
      return { changes };
    },
  };
}

function abbreviate(names: string[], max = 8): string {
  return names.length <= max ? names.join(', ') : `${names.slice(0, max).join(', ')} and ${names.length - max} more`;
}
