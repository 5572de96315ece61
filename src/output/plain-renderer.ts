import { roleLabel } from '../engine/records.js';
import type { Reporter } from '../engine/reporter.js';
import { c } from './colors.js';

/** One line per event: for CI logs and pipes (no TTY). */
export function plainRenderer(o: { diff: boolean; verbose: boolean; write?: (s: string) => void }): Reporter {
  const out = o.write ?? ((s: string) => process.stdout.write(`${s}\n`));
  // Plays overlap (a play's build phase runs beside the earlier plays: src/engine/play-order.ts): a phase of another
  // play than the last PLAY line says first names its play again. Step lines name their host either way.
  let shownPlay: string | undefined;
  const playLine = (play: string, tail: string) => {
    shownPlay = play;
    out(`\n${c.bold(`PLAY [${play}] ${'*'.repeat(Math.max(3, 60 - play.length))}`)} ${c.gray(tail)}`);
  };
  return {
    connectStart: (hosts) => out(c.bold(`CONNECT [${hosts.join(', ')}]`)),
    hostConnectFailed: (host, message, state) => out(c.red(`${state}: [${host}] ${withoutLabel(message, state)}`)),
    hostConnected: (host, summary) => o.verbose && out(c.gray(`connected: [${host}] ${summary}`)),
    playStart: (play, hosts) => playLine(play, hosts.join(', ')),
    phaseStart: (play, phase) => {
      if (shownPlay !== undefined && play !== shownPlay) playLine(play, '(continued)');
      out(c.bold(`PHASE [${phase}]`));
    },
    stepProgress: (host, line) => o.verbose && out(c.gray(`  … [${host}] ${line}`)),
    stepEnd: (r) => {
      const label = { ok: c.green('ok'), changed: c.yellow('changed'), failed: c.red('failed'), skipped: c.cyan('skipped'), unreachable: c.red('unreachable') }[r.status];
      if (r.status === 'ok' && !o.verbose) return;
      if (r.status === 'skipped' && !o.verbose) return;
      const what = r.changes?.length ? ` → ${r.changes.join('; ')}` : '';
      const msg = r.message && r.status !== 'changed' ? `: ${r.message}` : '';
      out(`${label}: [${r.host}] ${r.role ? `${roleLabel(r)} | ` : ''}${r.step}${what}${msg}${c.gray(` (${(r.durationMs / 1000).toFixed(1)}s)`)}`);
      if (o.diff && r.diff) out(colorDiff(r.diff));
    },
  };
}

/** "unreachable: [mq3] unreachable: connect …" says it twice: the line's label is enough. */
export function withoutLabel(message: string, label: string): string {
  return message.startsWith(`${label}: `) ? message.slice(label.length + 2) : message;
}

export function colorDiff(diff: string): string {
  return diff
    .split('\n')
    .map((l) => (l.startsWith('+') && !l.startsWith('+++') ? c.green(l) : l.startsWith('-') && !l.startsWith('---') ? c.red(l) : l.startsWith('@@') ? c.cyan(l) : l))
    .join('\n');
}
