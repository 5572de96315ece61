/**
 * The files a run replaced on a host, with the copies of what they held before (file steps with `backup`).
 * A restart that fails its health check puts ALL of them back, not only the file that notified it: a change
 * spans files (a port lives in mosquitto.conf and in the exporter's environment file). The copies are
 * meaningful only during the run that wrote them: once the host accepted the change (or the run ended with
 * the host healthy) they are deleted, and a copy no run of ours wrote (left by an interrupted run) is
 * deleted too, so it can never be restored later as "the previous version".
 */
import { shq } from '../transport/shell-quote.js';
import type { Phase } from './phase.js';
import type { StepRecord } from './records.js';
import type { RunLog } from './run-log.js';
import { storeKey, type Coordination } from './coordination.js';
import type { HostContext } from './types.js';

export interface FileBackup {
  path: string;
  /** The copy of the previous content (cp -p: owner, mode and mtime kept). Absent: the run created the file. */
  backup?: string;
  /** Keep the rejected version as path.failed when restoring (not for files holding secrets). */
  keepFailed?: boolean;
}

interface HostBackups {
  /** Replaced in this run, oldest first. */
  written: FileBackup[];
  /** Backup copies found beside files that needed no change: left by an earlier run. */
  stale: Set<string>;
}

/** Per host, run-wide (a change of the configure phase is rolled back by a failed restart in a later one). */
const BACKUPS = storeKey('engine: backups', () => new Map<string, HostBackups>());

function journal(coordination: Coordination, host: string): HostBackups {
  const all = coordination.store(BACKUPS);
  let h = all.get(host);
  if (!h) all.set(host, (h = { written: [], stale: new Set() }));
  return h;
}

/** Called when a file step replaced (or created) a file. */
export function recordWritten(ctx: HostContext, b: FileBackup): void {
  const j = journal(ctx.play.coordination, ctx.name);
  // One entry per path (a path written twice in a run keeps its first entry; its copy then holds the first write).
  if (j.written.some((w) => w.path === b.path)) return;
  j.written.push(b);
  if (b.backup) j.stale.delete(b.backup);
}

/** Called when planning a file that needs no change finds a backup copy beside it. */
export function recordStale(ctx: HostContext, backup: string): void {
  const j = journal(ctx.play.coordination, ctx.name);
  if (!j.written.some((w) => w.backup === backup)) j.stale.add(backup);
}

export function writtenThisRun(ctx: HostContext): FileBackup[] {
  return [...journal(ctx.play.coordination, ctx.name).written];
}

/**
 * Puts every file this run replaced back as it was (newest first): the copy moves back over it, a file the
 * run created is removed. Prints one line per file.
 */
export function restoreScript(written: FileBackup[]): string {
  const lines = ['rc=0'];
  for (const w of [...written].reverse()) {
    const p = shq(w.path);
    if (!w.backup) {
      lines.push(`rm -f -- ${p} && echo "removed ${w.path} (created by this run)"`);
      continue;
    }
    const b = shq(w.backup);
    lines.push(
      `if [ -f ${b} ]; then ${w.keepFailed ? `cp -p -- ${p} ${shq(`${w.path}.failed`)} 2>/dev/null; ` : ''}mv -f -- ${b} ${p} && echo "restored ${w.path}" || rc=1; else echo "no saved copy of ${w.path}" >&2; rc=1; fi`,
    );
  }
  lines.push('exit $rc');
  return lines.join('\n');
}

/** Restores what this run replaced on the host; afterwards the host has nothing pending. */
export async function restoreWritten(ctx: HostContext): Promise<{ ok: boolean; lines: string[] }> {
  const written = writtenThisRun(ctx);
  if (written.length === 0) return { ok: false, lines: [] };
  const r = await ctx.transport.script(restoreScript(written));
  journal(ctx.play.coordination, ctx.name).written = [];
  return { ok: r.code === 0, lines: `${r.stdout}\n${r.stderr}`.split('\n').map((l) => l.trim()).filter(Boolean) };
}

/** The copies to delete: this run's (the host accepted the change) and stale ones. */
function discardable(j: HostBackups): string[] {
  return [...new Set([...j.written.flatMap((w) => (w.backup ? [w.backup] : [])), ...j.stale])];
}

/** The host accepted the change: its backup copies go, and a later failure restores nothing from before it. */
export async function acceptWritten(ctx: HostContext): Promise<void> {
  const j = journal(ctx.play.coordination, ctx.name);
  const paths = j.written.flatMap((w) => (w.backup ? [w.backup] : []));
  j.written = [];
  if (paths.length) await ctx.transport.script(`rm -f -- ${paths.map(shq).join(' ')}`);
}

/** End of a run: what each host that is still healthy has left to delete, and the script that does it. */
export function pendingDiscards(coordination: Coordination, healthy: (host: string) => boolean): Array<{ host: string; stale: string[]; script: string }> {
  const all = coordination.store(BACKUPS);
  const out: Array<{ host: string; stale: string[]; script: string }> = [];
  for (const [host, j] of all) {
    const paths = discardable(j);
    if (!healthy(host) || paths.length === 0) continue;
    out.push({ host, stale: [...j.stale], script: `rm -f -- ${paths.map(shq).join(' ')}` });
    j.written = [];
    j.stale.clear();
  }
  return out;
}

/**
 * End of a run: on every host still healthy, this run's copies and stale ones are deleted (one script per host
 * that has any; nothing otherwise). Removing a stale copy is reported as a change of that host.
 */
export async function discardAtRunEnd(o: { run: RunLog; check: boolean; phase: Phase }): Promise<void> {
  if (o.check) return;
  const transport = (h: string) => o.run.hosts.get(h)?.liveTransport;
  await Promise.all(
    pendingDiscards(o.run.coordination, (h) => transport(h) !== undefined).map(async ({ host, stale, script }) => {
      const started = Date.now();
      const r = await transport(host)!.script(script).catch((err: Error) => ({ code: 1, stderr: err.message }));
      if (stale.length === 0 && r.code === 0) return;
      const rec: StepRecord = {
        host,
        play: '',
        phase: o.phase,
        role: '',
        step: 'remove backup copies left by an earlier run',
        status: r.code === 0 ? 'changed' : 'failed',
        changed: r.code === 0,
        durationMs: Date.now() - started,
        ...(r.code === 0 ? { changes: stale.map((p) => `remove ${p}`) } : { message: `could not remove backup copies: ${r.stderr.trim()}` }),
      };
      o.run.host(host).record(rec);
    }),
  );
}
