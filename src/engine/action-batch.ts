/**
 * The remote actions of several consecutive steps sent as one script: one round trip instead of one per action
 * (issue 13: a cold run paid ~46 round trips per host where a plain script pays one). Each action runs exactly as
 * `Transport.script` would run it alone — its own `sh`, reading the whole script from stdin before it starts, under
 * its own `timeout` when it has a bound — and the batch stops at the first action whose exit code is not one of its
 * okCodes. Markers around each action (on stdout and stderr, with the host's clock) split the output back per
 * action, so a failure reports that action's own stderr and each step its own duration.
 */
import { randomBytes } from 'node:crypto';
import { shq } from '../transport/shell-quote.js';
import type { ExecResult, Transport } from '../transport/types.js';
import type { RemoteAction } from './types.js';

type ScriptAction = Extract<RemoteAction, { script: string }>;

/** Can this action travel in a batch? Streams to a command (large uploads) cannot. */
export function batchable(a: RemoteAction): a is ScriptAction {
  return 'script' in a;
}

export interface ActionOutcome extends ExecResult {
  /** The host's coreutils timeout ended it (its bound is `action.timeoutMs`). */
  timedOut: boolean;
  /** Host-clock milliseconds the action took; undefined when the host's date cannot say (no %N). */
  ms?: number;
}

/** The outcomes of the actions that ran, in order: all of them, or up to and including the first that failed. */
export async function runActionBatch(t: Transport, actions: ScriptAction[], onOutput?: (line: string) => void): Promise<ActionOutcome[]> {
  const tag = randomBytes(6).toString('hex');
  const parts = [`printf '@@${tag} start %s\\n' "$(date +%s%N)"`];
  actions.forEach((a, i) => {
    const bound = a.timeoutMs ? `timeout -k 5 ${Math.max(1, Math.ceil(a.timeoutMs / 1000))} ` : '';
    const ok = (a.okCodes ?? [0]).join(' ');
    parts.push(
      `printf '\\n@@${tag} %d\\n' ${i}; printf '\\n@@${tag} %d\\n' ${i} >&2`,
      // printf is the shell's builtin: the script (it may hold secrets) is in no process's arguments, and unlike a
      // here-document (bash writes large ones to a temp file) it never touches the disk.
      `a=${shq(a.script)}`,
      `printf '%s\\n' "$a" | ${bound}sh -c 'eval "$(cat)"'`,
      `rc=$?`,
      `printf '\\n@@${tag} end %d %d %s\\n' ${i} $rc "$(date +%s%N)"; printf '\\n@@${tag} end %d\\n' ${i} >&2`,
      `case " ${ok} " in *" $rc "*) ;; *) exit 0 ;; esac`,
    );
  });
  // The wrapper itself has no bound when one action has none (as that action alone would not).
  const all = actions.every((a) => a.timeoutMs) ? actions.reduce((s, a) => s + a.timeoutMs! + 5_000, 0) : undefined;
  const progress = onOutput
    ? (chunk: string) => {
        const line = chunk.split('\n').filter((l) => l.trim() && !l.startsWith(`@@${tag}`)).pop();
        if (line) onOutput(line.trim());
      }
    : undefined;
  const r = await t.script(parts.join('\n'), { ...(all ? { timeoutMs: all } : {}), ...(progress ? { onOutput: progress } : {}) });
  return splitOutcomes(r, tag, actions);
}

function splitOutcomes(r: ExecResult, tag: string, actions: ScriptAction[]): ActionOutcome[] {
  const start = new RegExp(`^@@${tag} start (\\d+)$`, 'm').exec(r.stdout)?.[1];
  const out = sections(r.stdout, tag, true);
  const err = sections(r.stderr, tag, false);
  const outcomes: ActionOutcome[] = [];
  let previous = start && /^\d+$/.test(start) ? Number(BigInt(start) / 1_000_000n) : undefined;
  for (let i = 0; i < actions.length; i++) {
    const o = out.get(i);
    if (!o) {
      // The batch stopped before this action ended (connection lost, the wrapper killed): the first one missing
      // is the one that failed, with whatever the channel said.
      outcomes.push({ stdout: r.stdout, stderr: r.stderr, code: r.code === 0 ? 255 : r.code, timedOut: false });
      break;
    }
    const a = actions[i]!;
    const ended = o.at !== undefined ? Number(o.at / 1_000_000n) : undefined;
    const ms = ended !== undefined && previous !== undefined ? ended - previous : undefined;
    previous = ended;
    const timedOut = a.timeoutMs !== undefined && (o.code === 124 || o.code === 137);
    outcomes.push({ stdout: o.text, stderr: err.get(i)?.text ?? '', code: o.code, timedOut, ...(ms !== undefined ? { ms } : {}) });
    if (!(a.okCodes ?? [0]).includes(o.code)) break;
  }
  return outcomes;
}

interface Section {
  text: string;
  code: number;
  at?: bigint;
}

/** `@@tag i` … `@@tag end i [code time]` sections (see fact-batch.ts for the facts' form of the same framing). */
function sections(text: string, tag: string, withCode: boolean): Map<number, Section> {
  const map = new Map<number, Section>();
  const tail = withCode ? ' (\\d+) (\\S*)' : '';
  const re = new RegExp(`\\n@@${tag} (\\d+)\\n([\\s\\S]*?)\\n?@@${tag} end \\1${tail}\\n`, 'g');
  for (const m of `\n${text}`.matchAll(re)) {
    const at = m[4] && /^\d+$/.test(m[4]) ? BigInt(m[4]) : undefined;
    map.set(Number(m[1]), { text: m[2] ?? '', code: withCode ? Number(m[3]) : 0, ...(at !== undefined ? { at } : {}) });
  }
  return map;
}
