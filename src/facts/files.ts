import type { FactQuery } from './query.js';
import { shq } from '../transport/shell-quote.js';

export type PathType = 'file' | 'directory' | 'link' | 'other';

export interface PathFacts {
  exists: boolean;
  type?: PathType;
  uid?: number;
  gid?: number;
  owner?: string;
  group?: string;
  /** Permission bits, e.g. 0o640. */
  mode?: number;
  size?: number;
  /** Regular files only, when asked. */
  sha256?: string;
  /** Old content, only when its hash differs from the wanted one and it is small (see fileFact). */
  content?: Buffer;
  /** Recursive directories: some entry below has another owner or group than wanted. */
  driftBelow?: boolean;
}

/** Largest old content sent back for a diff. */
export const DIFF_MAX_BYTES = 128 * 1024;

export function checkPath(path: string): string {
  if (!path.startsWith('/') || /[\n\0]/.test(path) || path.split('/').includes('..')) throw new Error(`invalid path ${JSON.stringify(path)}: give an absolute path`);
  return path;
}

const statLine = (q: string) => `stat -c 'stat %F|%u|%g|%U|%G|%a|%s' -- ${q}`;

/** Existence, type, owner, group and mode of a path (no hashing: cheap for anything). */
export function statFact(path: string): FactQuery<PathFacts> {
  const q = shq(checkPath(path));
  return {
    key: `stat:${path}`,
    staleAfter: { paths: [path] },
    script: `if [ -e ${q} ] || [ -L ${q} ]; then ${statLine(q)}; else echo absent; fi`,
    parse: (stdout) => parsePathFacts(stdout),
  };
}

/**
 * A regular file's stat and sha256. With `wantSha256`, the old content (base64) comes back too when the
 * hash differs and the file is at most DIFF_MAX_BYTES: a diff costs nothing when nothing changes.
 */
export function fileFact(path: string, opts: { wantSha256?: string } = {}): FactQuery<PathFacts> {
  const q = shq(checkPath(path));
  const fetch = opts.wantSha256
    ? `\n    if [ "$h" != ${opts.wantSha256} ] && [ "$(stat -c %s -- ${q})" -le ${DIFF_MAX_BYTES} ]; then echo "content $(base64 -w0 < ${q})"; fi`
    : '';
  return {
    key: `file:${path}${opts.wantSha256 ? `:${opts.wantSha256.slice(0, 16)}` : ''}`,
    staleAfter: { paths: [path] },
    script: `if [ -e ${q} ] || [ -L ${q} ]; then
  ${statLine(q)}
  if [ -f ${q} ] && [ ! -L ${q} ]; then
    h=$(sha256sum < ${q} | cut -c1-64); echo "sha256 $h"${fetch}
  fi
else echo absent; fi`,
    parse: (stdout) => parsePathFacts(stdout),
  };
}

/** A directory's stat plus whether anything below it has another owner/group (for recursive ownership). */
export function treeFact(path: string, owner?: string, group?: string): FactQuery<PathFacts> {
  const q = shq(checkPath(path));
  const tests = [owner ? `! -user ${shq(owner)}` : '', group ? `! -group ${shq(group)}` : ''].filter(Boolean).join(' -o ');
  return {
    key: `tree:${path}:${owner ?? ''}:${group ?? ''}`,
    staleAfter: { under: path },
    script: `if [ -e ${q} ] || [ -L ${q} ]; then
  ${statLine(q)}
  ${tests ? `if [ -d ${q} ] && [ -n "$(find ${q} -mindepth 1 \\( ${tests} \\) -print -quit 2>/dev/null)" ]; then echo drift; fi` : ''}
else echo absent; fi`,
    parse: (stdout) => parsePathFacts(stdout),
  };
}

export function parsePathFacts(stdout: string): PathFacts {
  const lines = stdout.split('\n');
  const st = lines.find((l) => l.startsWith('stat '));
  if (!st) return { exists: false };
  const [kind = '', uid, gid, owner, group, mode, size] = st.slice(5).split('|');
  const facts: PathFacts = {
    exists: true,
    type: kind.startsWith('regular') ? 'file' : kind === 'directory' ? 'directory' : kind === 'symbolic link' ? 'link' : 'other',
    uid: Number(uid),
    gid: Number(gid),
    owner,
    group,
    mode: Number.parseInt(mode ?? '', 8),
    size: Number(size),
  };
  for (const l of lines) {
    if (l.startsWith('sha256 ')) facts.sha256 = l.slice(7).trim();
    else if (l.startsWith('content ')) facts.content = Buffer.from(l.slice(8).trim(), 'base64');
    else if (l.trim() === 'drift') facts.driftBelow = true;
  }
  return facts;
}

/**
 * A file's stat stamp, `device:inode:size:mtime:ctime` (times with their nanoseconds). User space can set mtime
 * back (`touch -d`) but not ctime: any write, rename over, chmod or chown gives the file a new stamp.
 */
export const STAMP_FORMAT = '%d:%i:%s:%.9Y:%.9Z';
const STAMP_RE = /^\d+:\d+:\d+:\d+\.\d{9}:\d+\.\d{9}$/;
/** A stamp taken this close (seconds) to its ctime is not trusted: a write in the same clock tick keeps the ctime. */
export const STAMP_RACY_SECONDS = 2;

/** A file's content digest as seen with this stamp: while the stamp is unchanged, so is the content. */
export interface StampedDigest {
  stamp: string;
  sha256: string;
}

export function isStampedDigest(d: unknown): d is StampedDigest {
  const o = d as Partial<StampedDigest> | undefined;
  return typeof o?.stamp === 'string' && STAMP_RE.test(o.stamp) && typeof o.sha256 === 'string' && /^[0-9a-f]{64}$/.test(o.sha256);
}

export interface StampedFileFacts extends PathFacts {
  /** The file's stamp now (regular files). */
  stamp?: string;
  /** The digest was not computed: the stamp is the remembered one, so `sha256` is the remembered digest. */
  stampKnown?: boolean;
  /** The file was hashed and its stamp is safe to remember with that digest (taken well after its last change). */
  remember?: StampedDigest;
}

/**
 * fileFact for large files (binaries) checked on every run, the way git's index and rsync do it: given the stamp
 * and digest remembered from the last check, the host sends only the stamp when it is unchanged, and hashes the
 * file only when it differs (or nothing is remembered). A wrong or stale memory costs one hash, never a wrong
 * answer: the digest is trusted only for the exact stamp it was computed with.
 *
 * When hashing, the host's clock is read before the hash and the stamp after it. The pair is worth remembering
 * only when that stamp's ctime is STAMP_RACY_SECONDS older than the clock reading: then the content did not change
 * while it was hashed, and any later change gets a later ctime, i.e. another stamp (git's "racy clean" rule).
 * A host clock set back by more than that while a file changes is the one thing this cannot see.
 */
export function stampedFileFact(path: string, known?: StampedDigest): FactQuery<StampedFileFacts> {
  const q = shq(checkPath(path));
  const remembered = known && isStampedDigest(known) ? known : undefined;
  const hash = `now=$(date +%s.%N); h=$(sha256sum < ${q} | cut -c1-64); echo "sha256 $h"; echo "hashed-at $now"; stat -c ${shq(`stamp-after ${STAMP_FORMAT}`)} -- ${q}`;
  return {
    key: `file-stamp:${path}:${remembered?.stamp ?? ''}`,
    staleAfter: { paths: [path] },
    script: `if [ -e ${q} ] || [ -L ${q} ]; then
  st=$(stat -c ${shq(`stat %F|%u|%g|%U|%G|%a|%s|${STAMP_FORMAT}`)} -- ${q}); echo "$st"
  if [ -f ${q} ] && [ ! -L ${q} ]; then
    ${remembered ? `case "$st" in *${shq(`|${remembered.stamp}`)}) echo stamp-known ;; *) ${hash} ;; esac` : hash}
  fi
else echo absent; fi`,
    parse: (stdout) => parseStampedFacts(stdout, remembered),
  };
}

export function parseStampedFacts(stdout: string, known?: StampedDigest): StampedFileFacts {
  const facts: StampedFileFacts = parsePathFacts(stdout);
  if (!facts.exists) return facts;
  const lines = stdout.split('\n');
  const stamp = lines.find((l) => l.startsWith('stat '))?.split('|')[7]?.trim();
  if (stamp && STAMP_RE.test(stamp)) facts.stamp = stamp;
  if (lines.some((l) => l.trim() === 'stamp-known')) {
    // Only the script made with `known` prints this, and only when the stamp is `known.stamp`.
    if (known && facts.stamp === known.stamp) return { ...facts, sha256: known.sha256, stampKnown: true };
    return { ...facts, sha256: undefined };
  }
  const after = lines.find((l) => l.startsWith('stamp-after '))?.slice(12).trim();
  const hashedAt = Number(lines.find((l) => l.startsWith('hashed-at '))?.slice(10));
  if (facts.sha256 && after && STAMP_RE.test(after) && Number.isFinite(hashedAt) && Number(after.split(':')[4]) < hashedAt - STAMP_RACY_SECONDS) {
    facts.remember = { stamp: after, sha256: facts.sha256 };
  }
  return facts;
}
