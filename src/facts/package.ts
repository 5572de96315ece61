import type { FactQuery } from './query.js';
import { shq } from '../transport/shell-quote.js';
import { checkName, sectionLines, splitSections } from './sections.js';

export type PackageManager = 'apt' | 'dnf';

/** What the package database says of one requested name. */
export interface InstalledPackage {
  /** The real package (dnf: the one providing the requested name). */
  name: string;
  /** apt: Debian version; dnf: [epoch:]version-release (epoch only when non-zero). */
  version: string;
}

export interface PackageLists {
  /** apt: some *_Packages list exists; dnf: some repository metadata is cached. */
  present: boolean;
  /** Seconds since the last refresh, when present. */
  ageSeconds?: number;
}

export interface PackageFacts {
  manager: PackageManager;
  /** Requested name → installed package; absent or config-files-only packages are missing. */
  installed: Map<string, InstalledPackage>;
  /** apt, when asked: requested name → candidate version from the local lists (undefined = none). */
  candidates?: Map<string, string | undefined>;
  /** dnf, when asked: requested names with an update available; 'unknown' when the metadata cache is missing. */
  updates?: Set<string> | 'unknown';
}

const APT_LISTS = '/var/lib/apt/lists';

// apt-get update rewrites list files only when they changed and keeps the server's mtime, but always
// touches lists/partial: its mtime is the time of the last refresh.
const APT_LISTS_AGE = `if ls ${APT_LISTS} 2>/dev/null | grep -q '_Packages'; then
  echo "present $(find ${APT_LISTS} -maxdepth 1 \\( -name '*_Packages*' -o -name partial \\) -printf '%T@\\n' | sort -n | tail -n 1)"
fi`;
const DNF_LISTS_AGE = `if ls /var/cache/dnf/*/repodata/repomd.xml >/dev/null 2>&1; then
  echo "present $(find /var/cache/dnf -maxdepth 3 \\( -name repomd.xml -o -name last_makecache \\) -printf '%T@\\n' | sort -n | tail -n 1)"
fi`;

// check-update fails on names that are neither installed nor available: ask only for installed ones.
const DNF_UPDATES = (words: string) => `echo @@updates
inst=$(for p in ${words}; do rpm -q --whatprovides "$p" --qf '%{NAME}\\n' 2>/dev/null | grep -v ' '; done)
rc=0; if [ -n "$inst" ]; then dnf -q -C check-update -- $inst 2>/dev/null; rc=$?; fi
echo @@updates-rc; echo $rc`;

function listsScript(): string {
  return `echo @@now; date +%s
if command -v apt-get >/dev/null 2>&1; then
echo @@pm; echo apt
echo @@lists
${APT_LISTS_AGE}
else
echo @@pm; echo dnf
echo @@lists
${DNF_LISTS_AGE}
fi`;
}

/**
 * One query for every package of a step: installed versions and, for `latest`, the candidate versions
 * (apt-cache policy) or available updates (dnf check-update, cache only). The package lists' age is a fact of its
 * own (packageListsFact), asked once per batch however many package steps a phase has.
 */
export function packagesFact(names: string[], opts: { latest?: boolean } = {}): FactQuery<PackageFacts> {
  const list = [...new Set(names)].map((n) => checkName('package', n));
  const words = list.map(shq).join(' ');
  const script = `if command -v apt-get >/dev/null 2>&1; then
echo @@pm; echo apt
echo @@installed
dpkg-query -W -f='\${Package}\\t\${Status}\\t\${Version}\\n' -- ${words} 2>/dev/null
${opts.latest ? `echo @@policy\napt-cache policy -- ${words} 2>/dev/null` : ''}
else
echo @@pm; echo dnf
echo @@installed
for p in ${words}; do rpm -q --whatprovides "$p" --qf "$p\\t%{NAME}\\t%{EPOCH}:%{VERSION}-%{RELEASE}\\n" 2>/dev/null; done
${opts.latest ? DNF_UPDATES(words) : ''}
fi
true`;
  return {
    key: `packages:${opts.latest ? 'latest:' : ''}${list.join(',')}`,
    staleAfter: 'files-never',
    script,
    parse: (stdout) => parsePackages(stdout, list),
  };
}

export function parsePackages(stdout: string, names: string[]): PackageFacts {
  const s = splitSections(stdout);
  const manager: PackageManager = (s.get('pm') ?? '').trim() === 'dnf' ? 'dnf' : 'apt';
  const installed = new Map<string, InstalledPackage>();
  for (const line of sectionLines(s, 'installed')) {
    const [want, second, third] = line.split('\t');
    if (!want || second === undefined || third === undefined) continue;
    if (manager === 'apt') {
      // Status is "want error state": only "installed" counts (not config-files, half-configured …).
      if (second.trim().split(/\s+/)[2] === 'installed') installed.set(want, { name: want, version: third.trim() });
    } else if (!installed.has(want)) {
      installed.set(want, { name: second, version: third.trim().replace(/^(0|\(none\)):/, '') });
    }
  }
  const facts: PackageFacts = { manager, installed };
  if (s.has('policy')) facts.candidates = parsePolicy(s.get('policy') ?? '', names);
  if (s.has('updates-rc')) {
    const rc = Number((s.get('updates-rc') ?? '').trim());
    facts.updates = rc === 0 || rc === 100 ? parseCheckUpdate(s.get('updates') ?? '') : 'unknown';
  }
  return facts;
}

function parseListsAge(s: Map<string, string>): PackageLists {
  const now = Number((s.get('now') ?? '').trim());
  const m = /^present\s*([0-9.]*)/m.exec(s.get('lists') ?? '');
  if (!m) return { present: false };
  const at = Number.parseFloat(m[1] ?? '');
  return Number.isFinite(at) && Number.isFinite(now) ? { present: true, ageSeconds: Math.max(0, Math.round(now - at)) } : { present: true };
}

/** `apt-cache policy a b`: "a:" blocks with "  Candidate: 1.2-3" or "(none)". */
export function parsePolicy(text: string, names: string[]): Map<string, string | undefined> {
  const out = new Map<string, string | undefined>();
  let current: string | undefined;
  for (const line of text.split('\n')) {
    const head = /^(\S+):$/.exec(line);
    if (head) {
      current = head[1]!.replace(/:[a-z0-9]+$/, '');
      continue;
    }
    const cand = /^\s+Candidate:\s+(\S+)/.exec(line);
    if (cand && current !== undefined) out.set(current, cand[1] === '(none)' ? undefined : cand[1]);
  }
  for (const n of names) if (!out.has(n)) out.set(n, undefined);
  return out;
}

/** `dnf check-update` lines: "name.arch  evr  repo" (section headers and blank lines ignored). */
export function parseCheckUpdate(text: string): Set<string> {
  const out = new Set<string>();
  for (const line of text.split('\n')) {
    if (/^Obsoleting/.test(line)) break;
    const m = /^(\S+)\.([A-Za-z0-9_]+)\s+\S+\s+\S+\s*$/.exec(line);
    if (m) out.add(m[1]!);
  }
  return out;
}

export const packageListsFact: FactQuery<{ manager: PackageManager; lists: PackageLists }> = {
  key: 'package-lists',
  staleAfter: 'files-never',
  script: listsScript(),
  parse: (stdout) => {
    const s = splitSections(stdout);
    return { manager: (s.get('pm') ?? '').trim() === 'dnf' ? 'dnf' : 'apt', lists: parseListsAge(s) };
  },
};

export interface UpgradableFacts {
  manager: PackageManager;
  lists: PackageLists;
  /** Packages a full upgrade would change; 'unknown' when that cannot be told (no lists or metadata). */
  upgradable: string[] | 'unknown';
}

/** What a full upgrade would do, simulated (`apt-get -s dist-upgrade`) or from the dnf cache (`dnf -C check-update`). */
export const upgradableFact: FactQuery<UpgradableFacts> = {
  key: 'package-upgradable',
  staleAfter: 'files-never',
  script: `${listsScript()}
if command -v apt-get >/dev/null 2>&1; then
echo @@sim
apt-get -s -q -o Debug::NoLocking=1 dist-upgrade 2>/dev/null | grep '^Inst '
else
echo @@updates
dnf -q -C check-update 2>/dev/null; rc=$?
echo @@updates-rc; echo $rc
fi
true`,
  parse: (stdout) => {
    const s = splitSections(stdout);
    const manager: PackageManager = (s.get('pm') ?? '').trim() === 'dnf' ? 'dnf' : 'apt';
    const lists = parseListsAge(s);
    let upgradable: string[] | 'unknown';
    if (manager === 'apt') {
      upgradable = lists.present ? sectionLines(s, 'sim').map((l) => l.split(/\s+/)[1] ?? '').filter(Boolean) : 'unknown';
    } else {
      const rc = Number((s.get('updates-rc') ?? '').trim());
      upgradable = rc === 0 || rc === 100 ? [...parseCheckUpdate(s.get('updates') ?? '')] : 'unknown';
    }
    return { manager, lists, upgradable };
  },
};
