import type { RunReport } from '../engine/records.js';
import { c } from './colors.js';

/** The host's own name as a whole word only: 10.77.1.2 must not eat into 10.77.1.20. */
function withoutHost(text: string, host: string): string {
  const escaped = host.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return text.replace(new RegExp(`(?<![\\w.-])${escaped}(?![\\w.-])`, 'g'), '<host>');
}

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
    // Hosts with the same changes (modulo their own name) share one block: ten identical brokers fit one screen.
    const groups = new Map<string, { hosts: string[]; items: string[] }>();
    for (const [host, items] of byHost) {
      const key = items.map((i) => withoutHost(i, host)).join('\n');
      const g = groups.get(key) ?? { hosts: [], items };
      g.hosts.push(host);
      groups.set(key, g);
    }
    const shown = [...groups.values()].slice(0, 6);
    for (const { hosts, items } of shown) {
      lines.push(`  ${c.yellow(hosts.join(', '))}`);
      const label = hosts.length > 1 ? items.map((i) => withoutHost(i, hosts[0]!)) : items;
      for (const item of label.slice(0, 10)) lines.push(`    ${item.length > 110 ? `${item.slice(0, 107)}...` : item}`);
      if (items.length > 10) lines.push(`    … and ${items.length - 10} more (see --json)`);
    }
    if (groups.size > shown.length) lines.push(`  … and ${groups.size - shown.length} more groups of hosts (see --json)`);
  }
  const controller = report.steps.filter((s) => s.controller);
  if (controller.length) {
    lines.push('', c.bold('CONTROLLER FAILED'));
    for (const s of controller) lines.push(`  ${c.red(s.message ?? `${s.role}: ${s.step}`)}`);
  }
  const failures = report.hosts.filter((h) => h.error);
  if (failures.length) {
    lines.push('', c.bold('FAILED'));
    for (const h of failures) lines.push(`  ${c.red(h.host)}: ${h.error}`);
  }
  lines.push('', c.gray(`${(report.durationMs / 1000).toFixed(1)} s${report.check ? ' (check mode: nothing was changed)' : ''}`));
  return lines.join('\n');
}
