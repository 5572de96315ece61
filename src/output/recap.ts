import type { RunReport } from '../engine/records.js';
import { c } from './colors.js';

/** Ansible's PLAY RECAP, then what changed where, in one screen. */
export function renderRecap(report: RunReport): string {
  const width = Math.max(...report.hosts.map((h) => h.host.length), 4);
  const lines = [c.bold(`PLAY RECAP ${'*'.repeat(60)}`)];
  for (const h of report.hosts) {
    const color = h.state === 'unreachable' || h.failed ? c.red : h.changed ? c.yellow : c.green;
    lines.push(
      `${color(h.host.padEnd(width))} : ok=${String(h.ok).padEnd(4)} changed=${String(h.changed).padEnd(4)} unreachable=${String(h.unreachable).padEnd(4)} failed=${String(h.failed).padEnd(4)} skipped=${String(h.skipped).padEnd(4)} round-trips=${h.roundTrips}`,
    );
  }
  const changed = report.steps.filter((s) => s.changed);
  if (changed.length) {
    lines.push('', c.bold(report.check ? 'WOULD CHANGE' : 'CHANGED'));
    const byHost = new Map<string, string[]>();
    for (const s of changed) byHost.set(s.host, [...(byHost.get(s.host) ?? []), `${s.role}: ${(s.changes ?? [s.step]).join(', ')}`]);
    const shown = [...byHost].slice(0, 12);
    for (const [host, items] of shown) {
      lines.push(`  ${c.yellow(host)}`);
      for (const item of items.slice(0, 8)) lines.push(`    ${item.length > 110 ? `${item.slice(0, 107)}...` : item}`);
      if (items.length > 8) lines.push(`    … and ${items.length - 8} more`);
    }
    if (byHost.size > shown.length) lines.push(`  … and ${byHost.size - shown.length} more hosts (see --json)`);
  }
  const failures = report.hosts.filter((h) => h.error);
  if (failures.length) {
    lines.push('', c.bold('FAILED'));
    for (const h of failures) lines.push(`  ${c.red(h.host)}: ${h.error}`);
  }
  lines.push('', c.gray(`${(report.durationMs / 1000).toFixed(1)} s${report.check ? ' (check mode: nothing was changed)' : ''}`));
  return lines.join('\n');
}
