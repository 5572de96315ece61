import { readFile } from 'node:fs/promises';
import { recordStale, recordWritten } from '../engine/backups.js';
import type { Change, FactQuery, HostContext, Step } from '../engine/types.js';
import { StepError } from '../errors.js';
import { DIFF_MAX_BYTES, type PathFacts, type StampedDigest, type StampedFileFacts, checkPath, fileFact, stampedFileFact, statFact, treeFact } from '../facts/files.js';
import { MASK, containsSecret, redact } from '../secrets.js';
import { shq } from '../transport/shell-quote.js';
import { unifiedDiff } from './diff.js';
import { checkMode, checkValidate, chownSpec, sha256, writeFileActions } from './write-file.js';

export interface FileOptions {
  path: string;
  content: string | Buffer;
  owner?: string;
  group?: string;
  /** Octal, e.g. '0640'. Unset: kept when the file exists, 0644 when created. */
  mode?: string;
  /**
   * The content holds secrets: no old content is fetched and the diff only says that it changed. Other files
   * get a diff with registered secret values masked, and removed lines hidden when the new content holds one.
   */
  sensitive?: boolean;
  /**
   * With `sensitive`: only the lines matching this pattern hold secrets (haproxy.cfg's health-check CONNECT bytes).
   * The old content is fetched and the diff shows every other line, these with everything after the pattern's
   * first group masked, old and new alike (an old secret is not registered), so the change can still be reviewed.
   */
  secretLines?: RegExp;
  /** Command with %s (the temp file), e.g. 'haproxy -c -f %s': must pass before the file is replaced. */
  validate?: string;
  /**
   * Keep the previous version as path+backupSuffix (default '.provision-prev') before replacing it, for this
   * run only: a failed restart restores it (with every other file backed up in this run, src/engine/backups.ts);
   * it is deleted once the host accepted the change, and one left by an earlier run is deleted at the end of a run.
   */
  backup?: boolean;
  backupSuffix?: string;
  name?: string;
  notify?: string[];
  tags?: string[];
}

export const DEFAULT_BACKUP_SUFFIX = '.provision-prev';
export const SENSITIVE_DIFF = '(sensitive content changed)';

/** A file with exactly this content, owner, group and mode; written atomically. */
export function file(o: FileOptions): Step {
  checkPath(o.path);
  if (o.mode) checkMode(o.mode);
  if (o.validate) checkValidate(o.validate);
  const data = typeof o.content === 'string' ? Buffer.from(o.content, 'utf8') : o.content;
  const hash = sha256(data);
  const fetchOld = (!o.sensitive || o.secretLines !== undefined) && isText(data);
  const fact = fileFact(o.path, fetchOld ? { wantSha256: hash } : {});
  // With a backup: is a copy lying beside the file? One this run did not write is stale (src/engine/backups.ts).
  const backupPath = o.backup ? o.path + (o.backupSuffix ?? DEFAULT_BACKUP_SUFFIX) : undefined;
  const backupFact = backupPath ? statFact(backupPath) : undefined;
  return {
    name: o.name ?? `file ${o.path}`,
    factsOnly: true,
    notify: o.notify,
    tags: o.tags,
    facts: backupFact ? [fact, backupFact] : [fact],
    plan: (ctx, facts) => {
      const f = facts.get(fact);
      const rewrite = !f.exists || f.type !== 'file' || f.sha256 !== hash;
      if (backupFact && !rewrite && facts.get(backupFact).exists) recordStale(ctx, backupPath!);
      return { changes: planFile(ctx, f, o, data) };
    },
  };
}

/** Same as `file`, for text rendered by roles; `content` may be a render function (called once, at step creation). */
export function template(o: Omit<FileOptions, 'content'> & { content: string | (() => string) }): Step {
  const content = typeof o.content === 'function' ? o.content() : o.content;
  return file({ ...o, content, name: o.name ?? `template ${o.path}` });
}

/**
 * The changes that make `o.path` hold `data` (shared by file, copy and systemdUnit). `contentSummary`: how the
 * content change reads (default `create <path>` / `update <path>`); attribute-only changes read the same for all.
 */
export function planFile(ctx: HostContext, f: PathFacts, o: Omit<FileOptions, 'content'>, data: Buffer, contentSummary?: string): Change[] {
  if (f.exists && f.type === 'directory') throw new StepError(`${o.path} is a directory, expected a file`);
  const hash = sha256(data);
  const mode = o.mode ? checkMode(o.mode) : f.exists && f.type === 'file' && f.mode !== undefined ? octal(f.mode) : '0644';
  if (!f.exists || f.type !== 'file' || f.sha256 !== hash) {
    const keep = f.exists && f.type === 'file';
    const change: Change = {
      summary: contentSummary ?? `${keep ? 'update' : 'create'} ${o.path}${o.sensitive ? ' (sensitive)' : ''}`,
      affects: [o.path],
      actions: writeFileActions({
        path: o.path,
        data,
        owner: o.owner ?? (keep ? String(f.uid) : undefined),
        group: o.group ?? (keep ? String(f.gid) : undefined),
        mode,
        validate: o.validate,
        backupSuffix: o.backup ? (o.backupSuffix ?? DEFAULT_BACKUP_SUFFIX) : undefined,
        restorecon: ctx.facts.selinux === 'enforcing' || ctx.facts.selinux === 'permissive',
      }),
    };
    if (o.backup) {
      // The engine's journal of this run's writes: a failed restart restores every file the change wrote.
      const written = { path: o.path, ...(keep ? { backup: o.path + (o.backupSuffix ?? DEFAULT_BACKUP_SUFFIX) } : {}), keepFailed: !o.sensitive };
      change.journal = (c) => recordWritten(c, written);
    }
    if (ctx.diff) change.diff = contentDiff(o.path, keep ? f : { exists: false }, data, o.sensitive ?? false, o.secretLines);
    return [change];
  }
  const attrs = attributeChange(o.path, f, { owner: o.owner, group: o.group, mode: o.mode });
  return attrs ? [attrs] : [];
}

/** Owner/group/mode drift only: fix just those. */
export function attributeChange(path: string, f: PathFacts, want: { owner?: string; group?: string; mode?: string }, recursive = false): Change | undefined {
  const owner = want.owner !== undefined && !sameId(want.owner, f.owner, f.uid) ? want.owner : undefined;
  const group = want.group !== undefined && !sameId(want.group, f.group, f.gid) ? want.group : undefined;
  const mode = want.mode !== undefined && Number.parseInt(checkMode(want.mode), 8) !== f.mode ? checkMode(want.mode) : undefined;
  const own = chownSpec(owner, group);
  const cmds: string[] = [];
  const what: string[] = [];
  if (own || (recursive && f.driftBelow)) {
    const spec = chownSpec(want.owner, want.group)!;
    cmds.push(`chown${recursive ? ' -R' : ''} ${shq(spec)} -- ${shq(path)}`);
    what.push(`owner ${spec}${recursive ? ' (recursive)' : ''}`);
  }
  if (mode) {
    cmds.push(`chmod ${mode} -- ${shq(path)}`);
    what.push(`mode ${mode}`);
  }
  if (cmds.length === 0) return undefined;
  return { summary: `set ${what.join(', ')} on ${path}`, affects: [path], actions: [{ script: cmds.join('\n') }] };
}

function sameId(want: string, name: string | undefined, id: number | undefined): boolean {
  return want === name || (/^\d+$/.test(want) && Number(want) === id);
}

export function octal(mode: number): string {
  return `0${(mode & 0o7777).toString(8).padStart(3, '0')}`.replace(/^0(\d{4})$/, '$1');
}

function contentDiff(path: string, f: PathFacts, data: Buffer, sensitive: boolean, secretLines?: RegExp): string {
  if (sensitive && !secretLines) return SENSITIVE_DIFF;
  if (!isText(data)) return `(binary content: ${f.exists ? `${f.size} bytes → ` : ''}${data.length} bytes)`;
  if (data.length > DIFF_MAX_BYTES) return `(content over ${DIFF_MAX_BYTES / 1024} KiB: ${f.exists ? `${f.size} bytes → ` : ''}${data.length} bytes)`;
  let before = '';
  if (f.exists) {
    if (!f.content || !isText(f.content)) return `(old content not shown: ${f.size} bytes, binary or over ${DIFF_MAX_BYTES / 1024} KiB)`;
    before = f.content.toString('utf8');
  }
  const after = data.toString('utf8');
  if (secretLines) return redact(maskSecretLines(unifiedDiff(before, after, path), secretLines));
  // Old secret values are not registered (rotated passwords): when the file holds secrets, hide removed lines.
  return redact(unifiedDiff(before, after, path, containsSecret(after) ? { hideRemoved: MASK } : {}));
}

/** A diff's context, removed and added lines that match `pattern`: kept up to its first group, the rest masked. */
function maskSecretLines(diff: string, pattern: RegExp): string {
  return diff
    .split('\n')
    .map((l) => {
      if (!/^[ +-]/.test(l) || l.startsWith('--- ') || l.startsWith('+++ ')) return l;
      const m = pattern.exec(l.slice(1));
      return m ? `${l[0]}${m[1] ?? ''}${MASK}` : l;
    })
    .join('\n');
}

export function isText(b: Buffer): boolean {
  if (b.includes(0)) return false;
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(b);
    return true;
  } catch {
    return false;
  }
}

/** Where the controller remembers the stamp and digest of a host's copy (see stampedFileFact). */
export interface StampStore {
  get(): StampedDigest | undefined;
  put(d: StampedDigest): void;
}

/**
 * A controller file (binaries) copied to the host when its sha256 differs from the host's copy; streamed when large.
 * `srcSha256`: the source's digest, when the caller already knows it (the exporter build records it): a host whose
 * copy has that digest is answered without reading and hashing the source. `stamps`: the host's copy is hashed
 * only when its stat stamp differs from the one remembered there (stampedFileFact), and a fresh trustworthy
 * stamp is remembered for the next run.
 */
export function copy(o: { src: string; srcSha256?: string; stamps?: StampStore; dest: string; owner?: string; group?: string; mode?: string; validate?: string; backup?: boolean; name?: string; notify?: string[]; tags?: string[] }): Step {
  checkPath(o.dest);
  if (o.mode) checkMode(o.mode);
  const stamps = o.stamps;
  const fact: FactQuery<StampedFileFacts> = stamps ? stampedFileFact(o.dest, stamps.get()) : fileFact(o.dest);
  return {
    name: o.name ?? `copy ${o.dest}`,
    factsOnly: true,
    notify: o.notify,
    tags: o.tags,
    facts: [fact],
    async plan(ctx, facts) {
      const f = facts.get(fact);
      // What the host's copy is, seen now: true whatever this step then changes (a write gives it a new stamp).
      if (stamps && f.remember) stamps.put(f.remember);
      if (o.srcSha256 && f.exists && f.type === 'file' && f.sha256 === o.srcSha256) {
        const attrs = attributeChange(o.dest, f, { owner: o.owner, group: o.group, mode: o.mode });
        return { changes: attrs ? [attrs] : [] };
      }
      const data = await readFile(o.src).catch((err: Error) => {
        throw new StepError(`cannot read ${o.src} on the controller: ${err.message}`);
      });
      return { changes: planFile(ctx, facts.get(fact), { ...o, path: o.dest }, data, `copy ${o.src} → ${o.dest} (${data.length} bytes)`) };
    },
  };
}

/** A directory with this owner/group/mode; `recursive` applies owner/group (not mode) to everything below. */
export function directory(o: { path: string; owner?: string; group?: string; mode?: string; recursive?: boolean; name?: string; notify?: string[]; tags?: string[] }): Step {
  checkPath(o.path);
  if (o.mode) checkMode(o.mode);
  const fact = o.recursive ? treeFact(o.path, o.owner, o.group) : statFact(o.path);
  return {
    name: o.name ?? `directory ${o.path}`,
    factsOnly: true,
    notify: o.notify,
    tags: o.tags,
    facts: [fact],
    plan(_ctx, facts) {
      const f = facts.get(fact);
      if (f.exists && f.type !== 'directory') throw new StepError(`${o.path} exists and is not a directory (${f.type})`);
      if (!f.exists) {
        const own = chownSpec(o.owner, o.group);
        const mode = checkMode(o.mode ?? '0755');
        const p = shq(o.path);
        const script = [`mkdir -p -- ${p}`, own ? `chown${o.recursive ? ' -R' : ''} ${shq(own)} -- ${p}` : '', `chmod ${mode} -- ${p}`].filter(Boolean).join('\n');
        return { changes: [{ summary: `create directory ${o.path}`, affects: [o.path], actions: [{ script }] }] };
      }
      const c = attributeChange(o.path, f, o, o.recursive);
      return { changes: c ? [c] : [] };
    },
  };
}

/** Nothing at this path (file, link or directory tree). */
export function absent(o: { path: string; name?: string; notify?: string[]; tags?: string[] }): Step {
  const path = checkPath(o.path).replace(/\/+$/, '');
  if (path === '' || path.split('/').filter(Boolean).length < 2) throw new Error(`absent: refusing to remove ${JSON.stringify(o.path)}`);
  const fact = statFact(path);
  return {
    name: o.name ?? `absent ${path}`,
    factsOnly: true,
    notify: o.notify,
    tags: o.tags,
    facts: [fact],
    plan(_ctx, facts) {
      const f = facts.get(fact);
      if (!f.exists) return { changes: [] };
      return { changes: [{ summary: `remove ${f.type === 'directory' ? 'directory ' : ''}${path}`, actions: [{ script: `rm -rf -- ${shq(path)}` }] }] };
    },
  };
}
