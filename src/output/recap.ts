import { roleLabel, type RunReport, type StepRecord } from '../engine/records.js';
import { changeKind, changeRank, type ChangeKind } from './change-importance.js';
import { c } from './colors.js';

export interface RecapOptions {
  /** The recap's height at most (the header and host lines always show): a 40-row terminal keeps it whole. */
  maxLines?: number;
  /** The --json file written, if any: what does not fit is there. */
  jsonFile?: string;
}

const DEFAULT_MAX_LINES = 30;
const MAX_ITEMS_PER_BLOCK = 10;
const MAX_BLOCKS = 6;
const MAX_ITEM_CHARS = 110;

/** The host's own name as a whole word only: 10.77.1.2 must not eat into 10.77.1.20. */
function withoutHost(text: string, host: string): string {
  const escaped = host.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return text.replace(new RegExp(`(?<![\\w.-])${escaped}(?![\\w.-])`, 'g'), '<host>');
}

interface Item {
  text: string;
  kind: ChangeKind;
}

interface Block {
  hosts: string[];
  items: Item[];
}

/** Ansible's PLAY RECAP, then what changed where (the important changes first), in one screen. */
export function renderRecap(report: RunReport, o: RecapOptions = {}): string {
  const width = Math.max(...report.hosts.map((h) => h.host.length), 4);
  const head = [c.bold(`PLAY RECAP ${'*'.repeat(60)}`)];
  for (const h of report.hosts) {
    const color = h.state === 'unreachable' || h.failed ? c.red : h.changed ? c.yellow : c.green;
    head.push(
      `${color(h.host.padEnd(width))} : ok=${String(h.ok).padEnd(4)} changed=${String(h.changed).padEnd(4)} unreachable=${String(h.unreachable).padEnd(4)} failed=${String(h.failed).padEnd(4)} skipped=${String(h.skipped).padEnd(4)} round-trips=${h.roundTrips}`,
    );
  }
  const tail: string[] = [];
  const controller = report.steps.filter((s) => s.controller);
  if (controller.length) {
    tail.push('', c.bold('CONTROLLER FAILED'));
    for (const s of controller) tail.push(`  ${c.red(s.message ?? `${roleLabel(s)}: ${s.step}`)}`);
  }
  const failures = report.hosts.filter((h) => h.error);
  if (failures.length) {
    tail.push('', c.bold('FAILED'));
    for (const h of failures) tail.push(`  ${c.red(h.host)}: ${h.error}`);
  }
  if (report.interrupted) tail.push('', c.red(c.bold('RUN INTERRUPTED')), `  ${report.interrupted}`, '  Hosts may be part-way through a change; a new run converges them.');
  tail.push('', c.gray(`${(report.durationMs / 1000).toFixed(1)} s${report.check ? ' (check mode: nothing was changed)' : ''}`));

  const blocks = changeBlocks(report.steps.filter((s) => s.changed && !s.controller));
  const changes: string[] = [];
  if (blocks.length) {
    const budget = Math.max(3, (o.maxLines ?? DEFAULT_MAX_LINES) - head.length - tail.length - 2);
    changes.push('', c.bold(report.check ? 'WOULD CHANGE' : 'CHANGED'), ...renderBlocks(blocks, budget, o.jsonFile));
  }
  return [...head, ...changes, ...tail].join('\n');
}

/** Hosts with the same changes (modulo their own name) share one block; each block's items, most important first. */
function changeBlocks(changed: StepRecord[]): Block[] {
  const byHost = new Map<string, Item[]>();
  for (const s of changed) {
    const summary = (s.changes ?? [s.step]).join(', ');
    byHost.set(s.host, [...(byHost.get(s.host) ?? []), { text: `${roleLabel(s)}: ${summary}`, kind: changeKind(s, summary) }]);
  }
  const groups = new Map<string, Block>();
  for (const [host, items] of byHost) {
    const key = items.map((i) => withoutHost(i.text, host)).join('\n');
    const g = groups.get(key) ?? { hosts: [], items };
    g.hosts.push(host);
    groups.set(key, g);
  }
  return [...groups.values()].map(({ hosts, items }) => ({
    hosts,
    // A stable sort: within a kind, the run's order.
    items: (hosts.length > 1 ? items.map((i) => ({ ...i, text: withoutHost(i.text, hosts[0]!) })) : items).sort((a, b) => changeRank(a.kind) - changeRank(b.kind)),
  }));
}

/**
 * The blocks in at most `budget` lines: as many blocks as fit (a header and a line each), then items dealt out one
 * at a time to each block in turn; what a block cannot show is counted, with its kinds, on one line.
 */
function renderBlocks(blocks: Block[], budget: number, jsonFile?: string): string[] {
  const where = jsonFile ? ` (all in ${jsonFile})` : '';
  let shown = Math.min(blocks.length, MAX_BLOCKS);
  const hiddenLine = (n: number) => (blocks.length > n ? 1 : 0);
  while (shown > 1 && shown * 2 + hiddenLine(shown) > budget) shown--;
  const visible = blocks.slice(0, shown);
  const wanted = visible.map((b) => Math.min(b.items.length, MAX_ITEMS_PER_BLOCK));
  const cost = (b: Block, n: number) => n + (n < b.items.length ? 1 : 0);
  const counts = visible.map(() => 0);
  let left = budget - hiddenLine(shown) - visible.reduce((sum, b) => sum + 1 + cost(b, 0), 0);
  for (let grew = true; grew; ) {
    grew = false;
    visible.forEach((b, i) => {
      if (counts[i]! >= wanted[i]!) return;
      const extra = cost(b, counts[i]! + 1) - cost(b, counts[i]!);
      if (extra > left) return;
      counts[i]!++;
      left -= extra;
      grew = true;
    });
  }
  const lines: string[] = [];
  visible.forEach((b, i) => {
    lines.push(`  ${c.yellow(b.hosts.join(', '))}`);
    for (const item of b.items.slice(0, counts[i])) lines.push(`    ${item.text.length > MAX_ITEM_CHARS ? `${item.text.slice(0, MAX_ITEM_CHARS - 3)}...` : item.text}`);
    const rest = b.items.slice(counts[i]);
    if (rest.length) lines.push(c.gray(`    … and ${rest.length} more: ${[...new Set(rest.map((r) => r.kind))].join(', ')}${where}`));
  });
  const hidden = blocks.slice(shown).flatMap((b) => b.hosts);
  if (hidden.length) lines.push(c.gray(`  … and ${hidden.length} more hosts changed: ${hidden.join(', ')}${where}`));
  return lines;
}
