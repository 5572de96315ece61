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
