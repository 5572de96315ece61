/**
 * Builds the Prometheus exporter sapcc/mosquitto-exporter from its git repository at a pinned ref, offline, with
 * Debian's Go toolchain and Go library packages (GOPATH mode), and returns a static linux binary.
 *
 * Two ways:
 * - `buildExporterOnController`: on the controller, into a private cache directory; the binary is then uploaded.
 * - `exporterBuildScriptForHost`: a POSIX sh script doing the same on a Debian target host (the old playbook's way,
 *   but pinned to a commit and in a private build directory instead of /tmp).
 *
 * A build is keyed by (commit, arch): a second call for the same pin returns the cached binary without building,
 * so a no-op provisioning run never rebuilds.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { chmod, lstat, mkdir, readFile, readlink, realpath, rename, rm, stat, symlink, unlink, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { processAlive, processStartId } from '../controller/process-info.js';
import { installDebianPackages } from '../controller/packages.js';
import { ProvisionError } from '../errors.js';
import { shq } from '../transport/shell-quote.js';

export interface ExporterBuildOptions {
  /** Git URL of the exporter repository (https://, ssh, file://, or a local path). */
  repoUrl: string;
  /** Tag (preferred), commit hash, or branch name; the resolved commit is what gets pinned and reported. */
  ref: string;
  /** Private cache directory (e.g. ~/.cache/provision/exporter); created 0700, must not be shared/world-writable. */
  cacheDir: string;
  /** Target architecture; default amd64. */
  goarch?: 'amd64' | 'arm64';
  /** Embedded as main.Version; default: the ref without a leading "v" when it looks like a version, else the short commit. */
  version?: string;
  onProgress?: (line: string) => void;
}

export interface ExporterBuildResult {
  binaryPath: string;
  sha256: string;
  /** Full commit hash the ref resolved to. */
  commit: string;
  /** True when an existing binary for (commit, arch) was returned without building. */
  cached: boolean;
  seconds: number;
}

/** A failed step of the exporter build: always names the command, its exit code and the tail of its stderr. */
export class ExporterBuildError extends ProvisionError {
  override readonly exitKind = 'failed';
  constructor(
    readonly problem: string,
    readonly command: string,
    readonly exitCode: number | null,
    readonly stderrTail: string,
  ) {
    super(
      `exporter build: ${problem}\n  command: ${command}\n  exit code: ${exitCode ?? 'none'}` +
        (stderrTail.trim() ? `\n  stderr (tail):\n${indent(stderrTail.trim())}` : ''),
    );
  }
}

/** Go import path the exporter's sources must live at in GOPATH mode. */
export const EXPORTER_IMPORT_PATH = 'github.com/sapcc/mosquitto-exporter';
/** Debian's Go library root (GOPATH entry) and the packages providing what the exporter imports. */
export const DEBIAN_GOCODE = '/usr/share/gocode';
export const EXPORTER_BUILD_PACKAGES: ReadonlyArray<{ pkg: string; provides: string }> = [
  { pkg: 'git', provides: 'bin:git' },
  { pkg: 'golang-go', provides: 'bin:go' },
  { pkg: 'golang-github-urfave-cli-dev', provides: 'src/github.com/urfave/cli' },
  { pkg: 'golang-github-eclipse-paho.mqtt.golang-dev', provides: 'src/github.com/eclipse/paho.mqtt.golang' },
  { pkg: 'golang-github-prometheus-client-golang-dev', provides: 'src/github.com/prometheus/client_golang/prometheus/promhttp' },
];

const STDERR_TAIL_LINES = 20;

export async function buildExporterOnController(o: ExporterBuildOptions): Promise<ExporterBuildResult> {
  const started = performance.now();
  const progress = o.onProgress ?? (() => {});
  const arch = o.goarch ?? 'amd64';
  if (arch !== 'amd64' && arch !== 'arm64') {
    throw new ExporterBuildError(`unsupported goarch ${JSON.stringify(arch)} (amd64 or arm64)`, '(options)', null, '');
  }
  validateRef(o.ref);
  if (o.version !== undefined) validateVersion(o.version);

  const cacheDir = resolve(o.cacheDir);
  await ensurePrivateDir(cacheDir);

  return withLock(join(cacheDir, '.lock'), progress, async () => {
    const binDir = join(cacheDir, 'bin');
    const binaryOf = (commit: string) => join(binDir, `mosquitto_exporter-${commit}-${arch}`);
    const cachedResult = async (commit: string): Promise<ExporterBuildResult | undefined> => {
      const binaryPath = binaryOf(commit);
      if (!existsSync(binaryPath)) return undefined;
      const reuse = await checkCached(binaryPath, `${binaryPath}.json`, o.version ?? defaultVersion(o.ref, commit.slice(0, 7)), progress);
      if (!reuse) return undefined;
      progress(`exporter ${commit.slice(0, 12)} (${arch}) already built: ${binaryPath}`);
      return { binaryPath, sha256: reuse, commit, cached: true, seconds: elapsed(started) };
    };

    // A no-op run asks again for what it built last time: answered from the pin recorded then, without git.
    const pinned = await readPin(cacheDir, o.repoUrl, o.ref);
    if (pinned) {
      const hit = await cachedResult(pinned);
      if (hit) return hit;
    }

    await ensureBuildTools(progress, ['git']); // Go is only needed when something must be built

    const srcDir = join(cacheDir, 'src', createHash('sha256').update(o.repoUrl).digest('hex').slice(0, 16));
    // A full commit hash already in the clone cannot change: no fetch (no network) needed.
    const known = /^[0-9a-f]{40}$/.test(o.ref) && (await hasCommit(srcDir, o.ref));
    if (!known) await cloneOrFetch(o.repoUrl, srcDir, progress);
    const { commit, kind } = await resolvePinnedCommit(srcDir, o.ref, progress);
    await recordPin(cacheDir, o.repoUrl, o.ref, commit, kind);
    const short = commit.slice(0, 7);
    const version = o.version ?? defaultVersion(o.ref, short);

    await mkdir(binDir, { recursive: true, mode: 0o700 });
    const binaryPath = binaryOf(commit);
    const metaPath = `${binaryPath}.json`;

    const hit = await cachedResult(commit);
    if (hit) return hit;

    await ensureBuildTools(progress);

    // Check out the pinned commit (not the ref: a tag could be moved between resolve and checkout).
    await run('git', ['-C', srcDir, '-c', 'advice.detachedHead=false', 'checkout', '--force', commit], { progress, env: gitEnv() });
    await run('git', ['-C', srcDir, 'clean', '-ffdxq'], { progress, env: gitEnv() });
    const head = (await run('git', ['-C', srcDir, 'rev-parse', 'HEAD'], { env: gitEnv() })).stdout.trim();
    if (head !== commit) {
      throw new ExporterBuildError(`checkout gave ${head}, expected ${commit}`, `git -C ${srcDir} rev-parse HEAD`, 0, '');
    }

    const gopath = join(cacheDir, 'gopath');
    await ensureSymlink(srcDir, join(gopath, 'src', EXPORTER_IMPORT_PATH));
    await ensureSymlink(join(DEBIAN_GOCODE, 'src/github.com/urfave/cli'), join(gopath, 'src/github.com/codegangsta/cli'));
    const goTmp = join(cacheDir, 'tmp');
    await mkdir(goTmp, { recursive: true, mode: 0o700 });

    const tmpOut = `${binaryPath}.tmp-${process.pid}`;
    await rm(tmpOut, { force: true });
    const ldflags = `-s -w -X main.Version=${version} -X main.GITCOMMIT=${short}`;
    const goEnv: NodeJS.ProcessEnv = {
      ...process.env,
      GO111MODULE: 'off',
      GOPATH: `${gopath}:${DEBIAN_GOCODE}`,
      GOPROXY: 'off',
      GOSUMDB: 'off',
      GOFLAGS: '-trimpath',
      // Kept in the cache dir between builds: a rebuild at another commit compiles only the exporter's own package.
      GOCACHE: join(cacheDir, 'gocache'),
      GOTMPDIR: goTmp,
      GOENV: 'off',
      GOTOOLCHAIN: 'local',
      CGO_ENABLED: '0',
      GOOS: 'linux',
      GOARCH: arch,
    };
    // `go build -v` names each package it compiles (cached ones are not named); `go list -deps` counts them all.
    const total = await run('go', ['list', '-deps', EXPORTER_IMPORT_PATH], { cwd: gopath, env: goEnv }).then(
      (r) => r.stdout.split('\n').filter((l) => l.trim()).length,
      () => undefined,
    );
    progress(`building exporter ${version} (${short}) for linux/${arch}${total ? ` (${total} packages with the standard library; a first build with an empty Go cache compiles them all)` : ''}`);
    const buildStarted = performance.now();
    const counter = compileCounter(total, progress);
    try {
      await run('go', ['build', '-v', '-o', tmpOut, '-ldflags', ldflags, EXPORTER_IMPORT_PATH], {
        progress: counter,
        cwd: gopath,
        env: goEnv,
        problem: `go build of ${EXPORTER_IMPORT_PATH} at ${short} for linux/${arch} failed`,
      });
      await chmod(tmpOut, 0o755);
      const sha256 = await sha256File(tmpOut);
      await writeFile(
        metaPath,
        `${JSON.stringify({ commit, ref: o.ref, arch, version, sha256, repoUrl: redactUrl(o.repoUrl), builtAt: new Date().toISOString() }, null, 2)}\n`,
      );
      await rename(tmpOut, binaryPath);
      progress(`built ${binaryPath} in ${elapsed(buildStarted)} s (sha256 ${sha256})`);
      return { binaryPath, sha256, commit, cached: false, seconds: elapsed(started) };
    } finally {
      await rm(tmpOut, { force: true });
    }
  });
}

/**
 * A POSIX sh script that builds the exporter ON a Debian target host, pinned like the controller build:
 * clone/fetch into `workDir/src`, resolve `ref` to a commit, GOPATH mode with Debian's Go packages (which must
 * already be installed; exit 3 names the missing ones), static binary at
 * `workDir/bin/mosquitto_exporter-<commit>-<arch>` (reused when present). Progress goes to stderr; the binary path
 * is the last line on stdout.
 *
 * `workDir` must be a private directory (not /tmp, not world-writable); it is created 0700. When the script runs
 * as root and `buildUser` is given, the work dir is handed to that user and the build runs as that user
 * (runuser), so nothing of the fetched source ever runs as root.
 */
export function exporterBuildScriptForHost(o: { repoUrl: string; ref: string; version: string; workDir: string; buildUser?: string }): string {
  validateRef(o.ref);
  validateVersion(o.version);
  if (!o.workDir.startsWith('/')) throw new ExporterBuildError(`workDir must be absolute: ${o.workDir}`, '(options)', null, '');
  const missingCheck = EXPORTER_BUILD_PACKAGES.map(({ pkg, provides }) =>
    provides.startsWith('bin:')
      ? `command -v ${provides.slice(4)} >/dev/null 2>&1 || missing="$missing ${pkg}"`
      : `[ -d ${DEBIAN_GOCODE}/${provides} ] || missing="$missing ${pkg}"`,
  ).join('\n');

  // The work dir must be private and persistent (so reruns reuse the binary): never a shared temporary directory,
  // never through a symlink, and no directory above it may be owned or writable by someone else (who could swap
  // the sources under a root-run build). Plain string: the sh below must not contain "${".
  const workDirCheck = String.raw`workdir_check() {
  me=$(id -u)
  canon=$(readlink -m -- "$WORK")
  for p in "$WORK" "$canon"; do
    case "$p" in /tmp|/tmp/*|/var/tmp|/var/tmp/*|/dev/shm|/dev/shm/*)
      printf '%s\n' "exporter build: refusing shared temporary directory $WORK (use a persistent private build dir)" >&2; return 1;;
    esac
  done
  [ ! -L "$WORK" ] || { printf '%s\n' "exporter build: refusing symlinked work dir $WORK" >&2; return 1; }
  d=$(dirname -- "$canon")
  while :; do
    if [ -e "$d" ]; then
      owner=$(stat -c %u -- "$d")
      mode=$(stat -c %a -- "$d")
      if [ "$owner" != 0 ] && [ "$owner" != "$me" ]; then
        printf '%s\n' "exporter build: $d is owned by uid $owner; refusing to build below it" >&2; return 1
      fi
      if [ $((0$mode & 022)) -ne 0 ] && [ $((0$mode & 01000)) -eq 0 ]; then
        printf '%s\n' "exporter build: $d is writable by other users; refusing to build below it" >&2; return 1
      fi
    fi
    [ "$d" = / ] && break
    d=$(dirname -- "$d")
  done
}
workdir_check || exit 2`;
  const inner = `set -eu
umask 077
REPO_URL=${shq(o.repoUrl)}
REF=${shq(o.ref)}
VERSION=${shq(o.version)}
WORK=${shq(o.workDir)}
IMPORT_PATH=${EXPORTER_IMPORT_PATH}
GOCODE=${DEBIAN_GOCODE}
log() { printf '%s\\n' "$*" >&2; }
missing=
${missingCheck}
if [ -n "$missing" ]; then log "exporter build: missing Debian packages:$missing (apt-get install$missing)"; exit 3; fi
${workDirCheck}
mkdir -p "$WORK"
[ -O "$WORK" ] || { log "exporter build: $WORK is not owned by $(id -un)"; exit 2; }
chmod 700 "$WORK"
export HOME="$WORK" GIT_TERMINAL_PROMPT=0 LC_ALL=C
SRC="$WORK/src"
if git -C "$SRC" rev-parse --git-dir >/dev/null 2>&1; then
  git -C "$SRC" fetch --quiet --force --tags origin '+refs/heads/*:refs/remotes/origin/*' >&2 || log "exporter build: fetch failed, using the local clone"
else
  rm -rf "$SRC" "$SRC.tmp"
  git clone --quiet --no-checkout -- "$REPO_URL" "$SRC.tmp" >&2
  mv "$SRC.tmp" "$SRC"
fi
COMMIT=
KIND=
for kind in tag commit branch; do
  case $kind in
    tag) rev="refs/tags/$REF";;
    commit) printf '%s' "$REF" | grep -Eq '^[0-9a-f]{7,40}$' || continue; rev="$REF";;
    branch) rev="refs/remotes/origin/$REF";;
  esac
  if COMMIT=$(git -C "$SRC" rev-parse --verify --quiet "$rev^{commit}"); then KIND=$kind; break; fi
  COMMIT=
done
[ -n "$COMMIT" ] || { log "exporter build: ref $REF does not resolve to a commit (no such tag, commit or branch) in $REPO_URL"; exit 4; }
[ "$KIND" != branch ] || log "exporter build: warning: $REF is a branch, not a tag; pinned to its current commit $COMMIT"
log "exporter build: ref $REF ($KIND) -> $COMMIT"
ARCH=$(GO111MODULE=off go env GOARCH)
SHORT=$(printf '%s' "$COMMIT" | cut -c1-7)
mkdir -p "$WORK/bin" "$WORK/tmp"
OUT="$WORK/bin/mosquitto_exporter-$COMMIT-$ARCH"
if [ -x "$OUT" ] && [ "$(cat "$OUT.version" 2>/dev/null || true)" = "$VERSION" ]; then
  log "exporter build: $OUT already built"
  printf '%s\\n' "$OUT"
  exit 0
fi
git -C "$SRC" -c advice.detachedHead=false checkout --quiet --force "$COMMIT" >&2
git -C "$SRC" clean -ffdxq >&2
GOPATH_DIR="$WORK/gopath"
mkdir -p "$GOPATH_DIR/src/github.com/sapcc" "$GOPATH_DIR/src/github.com/codegangsta"
ln -sfn "$SRC" "$GOPATH_DIR/src/$IMPORT_PATH"
ln -sfn "$GOCODE/src/github.com/urfave/cli" "$GOPATH_DIR/src/github.com/codegangsta/cli"
log "exporter build: building $VERSION ($SHORT) for linux/$ARCH"
rm -f "$OUT.tmp"
cd "$GOPATH_DIR"
GO111MODULE=off GOPATH="$GOPATH_DIR:$GOCODE" GOPROXY=off GOSUMDB=off GOFLAGS=-trimpath GOENV=off GOTOOLCHAIN=local \\
  GOCACHE="$WORK/gocache" GOTMPDIR="$WORK/tmp" CGO_ENABLED=0 GOOS=linux GOARCH="$ARCH" \\
  go build -o "$OUT.tmp" -ldflags "-s -w -X main.Version=$VERSION -X main.GITCOMMIT=$SHORT" "$IMPORT_PATH" >&2
chmod 755 "$OUT.tmp"
printf '%s\\n' "$VERSION" > "$OUT.version"
mv -f "$OUT.tmp" "$OUT"
printf '%s\\n' "$OUT"
`;
  if (!o.buildUser) return inner;
  // As root: hand the private work dir to the build user and run the whole build as that user.
  return `set -eu
WORK=${shq(o.workDir)}
BUILD_USER=${shq(o.buildUser)}
${workDirCheck}
if [ "$(id -u)" = 0 ] && [ "$BUILD_USER" != root ]; then
  id -u "$BUILD_USER" >/dev/null 2>&1 || { printf '%s\\n' "exporter build: no such user $BUILD_USER" >&2; exit 2; }
  mkdir -p "$WORK"
  chown "$BUILD_USER" "$WORK"
  chmod 700 "$WORK"
  cd /
  exec runuser -u "$BUILD_USER" -- sh -c ${shq(inner)}
fi
${inner}`;
}

// ---------------------------------------------------------------------------------------------------------------

/**
 * Turns `go build -v` output into progress: a package path per compiled package becomes "compiled N of TOTAL
 * packages (P %)", at most once per 5 % (and for the last); any other line (an error, a warning) passes through.
 */
export function compileCounter(total: number | undefined, progress: (line: string) => void): (line: string) => void {
  let done = 0;
  let shown = -1;
  return (line) => {
    const l = line.trim();
    if (!/^[A-Za-z0-9_.~+/-]+$/.test(l)) return progress(line);
    done++;
    if (!total) return progress(`compiled ${done} packages (${l})`);
    const pct = Math.min(100, Math.floor((done * 100) / total));
    if (pct >= shown + 5 || done === total) {
      shown = pct;
      progress(`compiled ${done} of ${total} packages (${pct} %): ${l}`);
    }
  };
}

function validateRef(ref: string): void {
  // A ref becomes a git argument and a script word: no options, no whitespace, no revision syntax.
  if (!/^[A-Za-z0-9][A-Za-z0-9._/+-]*$/.test(ref) || ref.includes('..') || ref.endsWith('.lock') || ref.endsWith('/')) {
    throw new ExporterBuildError(`invalid ref ${JSON.stringify(ref)}: expected a tag, commit hash or branch name`, '(validate ref)', null, '');
  }
}

function validateVersion(version: string): void {
  // Goes into -ldflags "-X main.Version=…": no spaces or quotes.
  if (!/^[A-Za-z0-9][A-Za-z0-9._+~-]*$/.test(version)) {
    throw new ExporterBuildError(`invalid version ${JSON.stringify(version)}`, '(validate version)', null, '');
  }
}

function defaultVersion(ref: string, short: string): string {
  const m = /^v?(\d+\.\d+\.\d+[A-Za-z0-9._+~-]*)$/.exec(ref);
  return m ? m[1]! : `0.0.0-${short}`;
}

function elapsed(since: number): number {
  return Math.round(performance.now() - since) / 1000;
}

function indent(s: string): string {
  return s.split('\n').map((l) => `    ${l}`).join('\n');
}

/** Hides credentials in URLs like https://user:token@host/… (command lines end up in error messages and logs). */
export function redactUrl(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/@]*@/i, '$1***@');
}

function gitEnv(): NodeJS.ProcessEnv {
  return { ...process.env, GIT_TERMINAL_PROMPT: '0', LC_ALL: 'C' };
}

interface RunOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  progress?: (line: string) => void;
  /** Error problem text; default "command failed". */
  problem?: string;
}

/** Runs a command without a shell; rejects with ExporterBuildError (command, exit code, stderr tail). */
function run(cmd: string, args: string[], opts: RunOptions = {}): Promise<{ stdout: string; stderr: string }> {
  const display = [cmd, ...args].map((a) => shq(redactUrl(a))).join(' ');
  return new Promise((resolvePromise, reject) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    const lines = (chunk: string, buf: { rest: string }): void => {
      if (!opts.progress) return;
      const parts = (buf.rest + chunk).split('\n');
      buf.rest = parts.pop() ?? '';
      for (const l of parts) if (l.trim()) opts.progress(l);
    };
    const outBuf = { rest: '' };
    const errBuf = { rest: '' };
    child.stdout.setEncoding('utf8').on('data', (c: string) => {
      stdout += c;
      lines(c, outBuf);
    });
    child.stderr.setEncoding('utf8').on('data', (c: string) => {
      stderr = (stderr + c).slice(-65536);
      lines(c, errBuf);
    });
    child.on('error', (err: NodeJS.ErrnoException) => {
      reject(new ExporterBuildError(err.code === 'ENOENT' ? `${cmd} not found` : err.message, display, null, stderr));
    });
    child.on('close', (code, signal) => {
      for (const b of [outBuf, errBuf]) if (b.rest.trim()) opts.progress?.(b.rest);
      if (code === 0) return resolvePromise({ stdout, stderr });
      const tail = stderr.trim().split('\n').slice(-STDERR_TAIL_LINES).join('\n');
      reject(new ExporterBuildError(opts.problem ?? (signal ? `command killed by ${signal}` : 'command failed'), display, code, tail));
    });
  });
}

/**
 * Creates the cache dir 0700. Refuses a cache dir owned by someone else or group/world-writable (e.g. /tmp itself),
 * and one below a directory another user owns or may write to without the sticky bit: whoever controls a parent
 * could swap the sources under a build that may run as root.
 */
async function ensurePrivateDir(dir: string): Promise<void> {
  const uid = process.getuid?.();
  const refuse = (why: string): never => {
    throw new ExporterBuildError(`cache dir ${dir}: ${why}; use a private directory such as ~/.cache/provision/exporter`, '(check cache dir)', null, '');
  };
  if (uid !== undefined) {
    let existing = dir;
    while (!existsSync(existing) && dirname(existing) !== existing) existing = dirname(existing);
    const real = await realpath(existing);
    for (let d = existing === dir ? dirname(real) : real; ; d = dirname(d)) {
      const st = await stat(d);
      if (st.uid !== 0 && st.uid !== uid) refuse(`${d} is owned by uid ${st.uid}`);
      if (st.mode & 0o022 && !(st.mode & 0o1000)) refuse(`${d} is writable by other users`);
      if (d === dirname(d)) break;
    }
  }
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const st = await stat(dir);
  if (uid !== undefined && st.uid !== uid) refuse(`owned by uid ${st.uid}, not by this user (uid ${uid})`);
  if (st.mode & 0o022) refuse(`group/world-writable (mode ${(st.mode & 0o7777).toString(8)})`);
}

async function missingPackages(only?: string[]): Promise<string[]> {
  const missing: string[] = [];
  for (const { pkg, provides } of EXPORTER_BUILD_PACKAGES) {
    if (only && !only.includes(pkg)) continue;
    if (provides.startsWith('bin:')) {
      const ok = await run(provides.slice(4), provides === 'bin:go' ? ['version'] : ['--version']).then(
        () => true,
        () => false,
      );
      if (!ok) missing.push(pkg);
    } else if (!existsSync(join(DEBIAN_GOCODE, provides))) {
      missing.push(pkg);
    }
  }
  return missing;
}

/** Makes sure the Debian packages (all, or `only` these) are there: apt-get installs them as root, else a clear error. */
async function ensureBuildTools(progress: (l: string) => void, only?: string[]): Promise<void> {
  const missing = await missingPackages(only);
  if (missing.length === 0) return;
  if (process.getuid?.() !== 0) {
    throw new ExporterBuildError(
      `missing build prerequisites; install the Debian packages: sudo apt-get install ${missing.join(' ')}`,
      '(check build tools)',
      null,
      '',
    );
  }
  await installDebianPackages(missing, { log: progress });
  const still = await missingPackages(only);
  if (still.length) {
    throw new ExporterBuildError(`still missing after apt-get install: ${still.join(' ')}`, `apt-get install ${missing.join(' ')}`, 0, '');
  }
}

async function cloneOrFetch(repoUrl: string, srcDir: string, progress: (l: string) => void): Promise<void> {
  const env = gitEnv();
  const isRepo = existsSync(srcDir) && (await run('git', ['-C', srcDir, 'rev-parse', '--git-dir'], { env }).then(() => true, () => false));
  if (isRepo) {
    progress(`fetching ${redactUrl(repoUrl)}`);
    // Point origin at the URL we were given (same hash, but be exact), then fetch branches and tags; tags may move
    // upstream, which is why the resolved commit is what gets recorded.
    await run('git', ['-C', srcDir, 'remote', 'set-url', 'origin', repoUrl], { env });
    try {
      await run('git', ['-C', srcDir, 'fetch', '--quiet', '--force', '--tags', '--prune', 'origin', '+refs/heads/*:refs/remotes/origin/*'], {
        env,
        progress,
        problem: `fetching ${redactUrl(repoUrl)} failed`,
      });
    } catch (err) {
      // Offline no-op runs must still work: fall back to the local clone (the ref must resolve there).
      progress(`warning: ${(err as Error).message.split('\n')[0]}; using the cached clone`);
    }
    return;
  }
  progress(`cloning ${redactUrl(repoUrl)}`);
  await mkdir(dirname(srcDir), { recursive: true, mode: 0o700 });
  const tmp = `${srcDir}.tmp-${process.pid}`;
  await rm(tmp, { recursive: true, force: true });
  await rm(srcDir, { recursive: true, force: true });
  try {
    await run('git', ['clone', '--quiet', '--no-checkout', '--', repoUrl, tmp], { env, progress, problem: `cloning ${redactUrl(repoUrl)} failed` });
    await rename(tmp, srcDir);
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

async function hasCommit(srcDir: string, commit: string): Promise<boolean> {
  if (!existsSync(srcDir)) return false;
  return run('git', ['-C', srcDir, 'cat-file', '-e', `${commit}^{commit}`], { env: gitEnv() }).then(
    () => true,
    () => false,
  );
}

type RefKind = 'tag' | 'commit' | 'branch';

/**
 * How long a tag's resolution is trusted without asking the repository again. Tags are meant not to move (a moved
 * one is still noticed within this time); a commit hash cannot move; a branch is asked every run.
 */
export const TAG_RECHECK_MS = 24 * 3_600_000;

interface Pin {
  commit: string;
  kind: RefKind;
  /** ms since the epoch: when the repository was last asked. */
  resolvedAt: number;
}

function pinPath(cacheDir: string, repoUrl: string, ref: string): string {
  return join(cacheDir, 'pins', `${createHash('sha256').update(`${repoUrl}\n${ref}`).digest('hex').slice(0, 32)}.json`);
}

/** The commit `ref` resolved to last time, when it can be trusted without git (see TAG_RECHECK_MS). */
async function readPin(cacheDir: string, repoUrl: string, ref: string, now = Date.now()): Promise<string | undefined> {
  let pin: Partial<Pin>;
  try {
    pin = JSON.parse(await readFile(pinPath(cacheDir, repoUrl, ref), 'utf8')) as Partial<Pin>;
  } catch {
    return undefined;
  }
  if (typeof pin.commit !== 'string' || !/^[0-9a-f]{40}$/.test(pin.commit) || typeof pin.resolvedAt !== 'number') return undefined;
  if (pin.kind === 'commit') return pin.commit;
  if (pin.kind === 'tag' && now - pin.resolvedAt >= 0 && now - pin.resolvedAt < TAG_RECHECK_MS) return pin.commit;
  return undefined;
}

async function recordPin(cacheDir: string, repoUrl: string, ref: string, commit: string, kind: RefKind): Promise<void> {
  const file = pinPath(cacheDir, repoUrl, ref);
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  await writeFile(`${file}.tmp`, `${JSON.stringify({ commit, kind, resolvedAt: Date.now() } satisfies Pin)}\n`, { mode: 0o600 });
  await rename(`${file}.tmp`, file);
}

/** Resolves the ref to a full commit: a tag first, then a commit hash, then a branch (allowed, but warned about). */
async function resolvePinnedCommit(srcDir: string, ref: string, progress: (l: string) => void): Promise<{ commit: string; kind: RefKind }> {
  const env = gitEnv();
  const candidates: Array<{ rev: string; kind: RefKind }> = [{ rev: `refs/tags/${ref}`, kind: 'tag' }];
  if (/^[0-9a-f]{7,40}$/.test(ref)) candidates.push({ rev: ref, kind: 'commit' });
  candidates.push({ rev: `refs/remotes/origin/${ref}`, kind: 'branch' });
  let last: ExporterBuildError | undefined;
  for (const c of candidates) {
    try {
      const commit = (await run('git', ['-C', srcDir, 'rev-parse', '--verify', '--quiet', `${c.rev}^{commit}`], { env })).stdout.trim();
      if (!/^[0-9a-f]{40}$/.test(commit)) continue;
      if (c.kind === 'branch') progress(`warning: ref ${ref} is a branch, not a tag; pinned to its current commit ${commit}`);
      progress(`ref ${ref} (${c.kind}) -> ${commit}`);
      return { commit, kind: c.kind };
    } catch (err) {
      if (err instanceof ExporterBuildError) last = err;
      else throw err;
    }
  }
  throw new ExporterBuildError(
    `ref ${JSON.stringify(ref)} does not resolve to a commit (no such tag, commit or branch) in the exporter repository`,
    last?.command ?? `git -C ${srcDir} rev-parse --verify ${ref}^{commit}`,
    last?.exitCode ?? null,
    last?.stderrTail ?? '',
  );
}

interface BinaryMeta {
  version?: string;
  sha256?: string;
  /** The file as it was when `sha256` was last computed: while it still looks the same, the digest is reused. */
  stat?: string;
}

function statKey(st: { size: number; mtimeMs: number; ino: number; ctimeMs: number }): string {
  return `${st.size}:${st.mtimeMs}:${st.ctimeMs}:${st.ino}`;
}

/** Returns the sha256 when the cached binary can be reused, undefined when it must be rebuilt. */
async function checkCached(binaryPath: string, metaPath: string, version: string, progress: (l: string) => void): Promise<string | undefined> {
  let meta: BinaryMeta | undefined;
  try {
    meta = JSON.parse(await readFile(metaPath, 'utf8')) as BinaryMeta;
  } catch {
    meta = undefined; // binary without metadata (placed by hand): same commit + arch, reuse it
  }
  const seen = statKey(await stat(binaryPath));
  // Hashing 10 MB on every no-op costs more than the rest of the lookup: a file with the size, times and inode
  // it had when it was last hashed still has that digest (any write changes its mtime and ctime).
  const sha256 = meta?.sha256 && meta.stat === seen ? meta.sha256 : await sha256File(binaryPath);
  if (meta?.sha256 && meta.sha256 !== sha256) {
    progress(`cached ${binaryPath} does not match its recorded sha256; rebuilding`);
    return undefined;
  }
  if (meta?.version && meta.version !== version) {
    progress(`cached ${binaryPath} embeds version ${meta.version}, wanted ${version}; rebuilding`);
    return undefined;
  }
  if (meta?.sha256 && meta.stat !== seen) await writeFile(metaPath, `${JSON.stringify({ ...meta, stat: seen }, null, 2)}\n`);
  return sha256;
}

async function ensureSymlink(target: string, linkPath: string): Promise<void> {
  await mkdir(dirname(linkPath), { recursive: true, mode: 0o700 });
  try {
    const st = await lstat(linkPath);
    if (st.isSymbolicLink() && (await readlink(linkPath)) === target) return;
    if (st.isDirectory() && !st.isSymbolicLink()) await rm(linkPath, { recursive: true, force: true });
    else await unlink(linkPath);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  await symlink(target, linkPath);
}

export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** A lock directory (mkdir is atomic) holding the owner's pid; a lock left by a dead process is taken over. */
async function withLock<T>(lockDir: string, progress: (l: string) => void, fn: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + 20 * 60_000;
  let announced = false;
  for (;;) {
    try {
      await mkdir(lockDir);
      // The PID and its start identity: a lock left by a process that is gone (also when its PID was reused since,
      // or on a restored machine image) is stale.
      await writeFile(join(lockDir, 'pid'), `${process.pid} ${processStartId(process.pid) ?? ''}`);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const [ownerText, ownerStart] = (await readFile(join(lockDir, 'pid'), 'utf8').catch(() => '')).trim().split(' ');
    const owner = Number(ownerText);
    let stale = false;
    if (owner > 0 && owner !== process.pid) {
      stale = !processAlive(owner) || (ownerStart !== undefined && ownerStart !== '' && processStartId(owner) !== ownerStart);
    } else if (!owner) {
      const st = await stat(lockDir).catch(() => undefined);
      stale = !st || Date.now() - st.mtimeMs > 60_000; // creator died between mkdir and writing its pid
    }
    if (stale) {
      await rm(lockDir, { recursive: true, force: true });
      continue;
    }
    if (Date.now() > deadline) {
      throw new ExporterBuildError(`timed out waiting for the build lock ${lockDir} (held by pid ${owner || '?'})`, '(lock)', null, '');
    }
    if (!announced) progress(`waiting for another exporter build (lock ${lockDir}, pid ${owner || '?'})`);
    announced = true;
    await new Promise((r) => setTimeout(r, 200));
  }
  try {
    return await fn();
  } finally {
    await rm(lockDir, { recursive: true, force: true });
  }
}
