import { createHash } from 'node:crypto';
import { dirname, basename } from 'node:path';
import type { RemoteAction } from '../engine/types.js';
import { shq } from '../transport/shell-quote.js';

/** Up to this size the content travels base64-encoded inside the script; above, it is streamed raw. */
export const INLINE_MAX_BYTES = 512 * 1024;

export interface WriteSpec {
  path: string;
  data: Buffer;
  /** Name or number; undefined leaves the temp file root-owned. */
  owner?: string;
  group?: string;
  /** Octal string, e.g. '0640'. */
  mode: string;
  /** Command with %s, run on the temp file before it replaces the target. */
  validate?: string;
  /** Keep the previous file as path+suffix before replacing it. */
  backupSuffix?: string;
  /** Restore the SELinux label after the rename. */
  restorecon?: boolean;
}

export function sha256(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

export function chownSpec(owner?: string, group?: string): string | undefined {
  if (owner && group) return `${owner}:${group}`;
  if (owner) return owner;
  if (group) return `:${group}`;
  return undefined;
}

export function checkMode(mode: string): string {
  if (!/^0?[0-7]{3,4}$/.test(mode)) throw new Error(`invalid mode ${JSON.stringify(mode)}: give octal digits, e.g. '0640'`);
  return mode.length === 3 ? `0${mode}` : mode.length === 5 ? mode.slice(1) : mode;
}

export function checkValidate(cmd: string): string {
  if (!cmd.includes('%s')) throw new Error(`validate command must contain %s (the file to check): ${cmd}`);
  return cmd;
}

/**
 * Atomic replacement: a temp file in the target's directory gets the content, owner and mode, passes the
 * optional validation, then `mv -f` puts it in place. On any failure the temp file goes and the target stays.
 */
export function writeFileActions(w: WriteSpec): RemoteAction[] {
  const dir = dirname(w.path);
  const base = basename(w.path);
  const hash = sha256(w.data);
  if (w.data.length <= INLINE_MAX_BYTES) {
    const fill = `t=$(mktemp ${shq(`${dir}/.${base}.provision-`)}XXXXXX)
trap 'rm -f -- "$t"' EXIT
printf '%s' ${shq(w.data.toString('base64'))} | base64 -d > "$t"`;
    return [{ script: finishScript(w, fill) }];
  }
  const tmp = `${dir}/.${base}.provision-upload`;
  return [
    // noclobber: the temp name is fixed, so never write through something planted there.
    { command: `umask 077; rm -f -- ${shq(tmp)}; set -C; cat > ${shq(tmp)}`, input: w.data, timeoutMs: 30 * 60_000 },
    {
      script: finishScript(
        w,
        `t=${shq(tmp)}
trap 'rm -f -- "$t"' EXIT
[ "$(sha256sum < "$t" | cut -c1-64)" = ${hash} ] || { echo "upload of ${base} arrived corrupted" >&2; exit 1; }`,
      ),
    },
  ];
}

function finishScript(w: WriteSpec, fill: string): string {
  const p = shq(w.path);
  const own = chownSpec(w.owner, w.group);
  const lines = ['set -e', 'umask 077', fill];
  if (own) lines.push(`chown ${shq(own)} "$t"`);
  lines.push(`chmod ${w.mode} "$t"`);
  if (w.validate) {
    const cmd = w.validate.split('%s').join('"$t"');
    // The message names the file being replaced and the command as run (the temp file filled in), then the
    // validator's own last lines (its error), which the step failure shows.
    const shown = w.validate.split('%s').map(shq).join('"$t"');
    lines.push(
      `if ! out=$( ( ${cmd} ) 2>&1 ); then { printf '%s\\n' ${shq(`validation of the new ${w.path} failed (the file stays as it was): `)}${shown}; printf '%s\\n' "$out" | tail -n 7; } >&2; exit 1; fi`,
    );
  }
  if (w.backupSuffix) lines.push(`if [ -f ${p} ]; then cp -p -- ${p} ${shq(w.path + w.backupSuffix)}; fi`);
  lines.push(`mv -f -- "$t" ${p}`, 'trap - EXIT');
  if (w.restorecon) lines.push(`if command -v restorecon >/dev/null 2>&1; then restorecon -- ${p} || true; fi`);
  return lines.join('\n');
}
