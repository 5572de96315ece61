/**
 * The PLAY RECAP: one line per host with Ansible's counters, then what changed where (hosts with the same changes,
 * modulo their own name, share one block), the failures, and whether it was a check run.
 */
import { describe, expect, it } from 'vitest';
import type { HostSummary, RunReport, StepRecord } from '../../../src/engine/records.js';
import { summarize } from '../../../src/engine/records.js';
import { renderRecap } from '../../../src/output/recap.js';
import { firstRunReport } from '../../support/first-run-report.js';

// eslint-disable-next-line no-control-regex
const plain = (s: string) => s.replace(/\x1b\[[0-9;]*m/g, '');

function record(host: string, role: string, step: string, status: StepRecord['status'], extra: Partial<StepRecord> = {}): StepRecord {
  return { host, play: 'p', phase: 'configure', role, step, status, changed: status === 'changed', durationMs: 5, ...extra };
}

function report(steps: StepRecord[], hosts: string[], o: { check?: boolean; states?: Record<string, HostSummary['state']>; errors?: Record<string, string>; roundTrips?: Record<string, number> } = {}): RunReport {
  return {
    version: 'test',
    startedAt: '2026-01-01T00:00:00.000Z',
    durationMs: 12_345,
    check: o.check ?? false,
    phases: ['build', 'configure', 'runtime', 'cluster'],
    hosts: hosts.map((h) => summarize(h, steps, o.roundTrips?.[h] ?? 5, o.states?.[h] ?? 'ok', o.errors?.[h])),
    steps,
  };
}

/** The host lines, parsed. */
function hostLines(text: string) {
  return plain(text)
    .split('\n')
    .flatMap((l) => {
      const m = /^(\S+)(\s*) : ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)\s+skipped=(\d+)\s+round-trips=(\d+)$/.exec(l);
      return m ? [{ host: m[1], pad: m[1]!.length + m[2]!.length, ok: +m[3]!, changed: +m[4]!, unreachable: +m[5]!, failed: +m[6]!, skipped: +m[7]!, roundTrips: +m[8]! }] : [];
    });
}

/** The lines of the CHANGED / WOULD CHANGE section. */
function changeSection(text: string): string[] {
  const lines = plain(text).split('\n');
  const start = lines.findIndex((l) => l === 'CHANGED' || l === 'WOULD CHANGE');
  if (start < 0) return [];
  const end = lines.findIndex((l, i) => i > start && l === '');
  return lines.slice(start + 1, end < 0 ? undefined : end);
}

describe('renderRecap', () => {
  it('one line per host, in report order, with ok (changed included), changed, unreachable, failed, skipped and round trips', () => {
    const steps = [
      record('mq1', 'base', 'packages', 'changed', { changes: ['install jq'] }),
      record('mq1', 'base', 'lists', 'ok'),
      record('mq1', 'pki', 'cert', 'skipped', { message: 'ran once on mq2' }),
      record('mq2', 'base', 'packages', 'ok'),
      record('mq2', 'base', 'lists', 'failed', { message: 'boom' }),
      record('loadbalancer-1', '', 'connect and gather facts', 'unreachable', { kind: 'connect', message: 'refused' }),
    ];
    const text = renderRecap(report(steps, ['mq1', 'mq2', 'loadbalancer-1'], { states: { mq2: 'failed', 'loadbalancer-1': 'unreachable' }, roundTrips: { mq1: 7, mq2: 3, 'loadbalancer-1': 0 } }));
    expect(plain(text).split('\n')[0]).toBe(`PLAY RECAP ${'*'.repeat(60)}`);
    expect(hostLines(text)).toEqual([
      { host: 'mq1', pad: 14, ok: 2, changed: 1, unreachable: 0, failed: 0, skipped: 1, roundTrips: 7 },
      { host: 'mq2', pad: 14, ok: 1, changed: 0, unreachable: 0, failed: 1, skipped: 0, roundTrips: 3 },
      { host: 'loadbalancer-1', pad: 14, ok: 0, changed: 0, unreachable: 1, failed: 0, skipped: 0, roundTrips: 0 },
    ]);
  });

  it('groups hosts whose changes are the same modulo their own name into one block; others get their own', () => {
    const steps: StepRecord[] = [];
    for (const h of ['mq1', 'mq2', 'mq3']) {
      steps.push(
        record(h, 'pki', 'CA and server certificate (controller)', 'changed', { changes: [`issue certificate for ${h} (new) in /inv/pki`] }),
        record(h, 'mosquitto_config', 'mosquitto.conf', 'changed', { changes: ['update /etc/mosquitto/mosquitto.conf'] }),
        record(h, 'base', 'package lists refreshed', 'ok'),
      );
    }
    steps.push(record('lb1', 'haproxy', 'haproxy.cfg', 'changed', { changes: ['create /etc/haproxy/haproxy.cfg (sensitive)'] }));
    steps.push(record('mq4', 'base', 'package lists refreshed', 'ok'));
    const text = renderRecap(report(steps, ['mq1', 'mq2', 'mq3', 'lb1', 'mq4']));
    expect(changeSection(text)).toEqual([
      '  mq1, mq2, mq3',
      '    pki: issue certificate for <host> (new) in /inv/pki',
      '    mosquitto_config: update /etc/mosquitto/mosquitto.conf',
      '  lb1',
      '    haproxy: create /etc/haproxy/haproxy.cfg (sensitive)',
    ]);
    expect(plain(text)).not.toMatch(/^\s+mq4$/m); // nothing changed there
  });

  it('does not group hosts whose change lists differ, and shows a lone host\'s own name', () => {
    const steps = [
      record('mq1', 'pki', 'cert', 'changed', { changes: ['issue certificate for mq1'] }),
      record('mq2', 'pki', 'cert', 'changed', { changes: ['issue certificate for mq2'] }),
      record('mq2', 'exporter', 'binary', 'changed', { changes: ['copy exporter'] }),
    ];
    expect(changeSection(renderRecap(report(steps, ['mq1', 'mq2'])))).toEqual(['  mq1', '    pki: issue certificate for mq1', '  mq2', '    pki: issue certificate for mq2', '    exporter: copy exporter']);
  });

  it('hosts named by address group by whole names only (10.77.1.2 is not a part of 10.77.1.20)', () => {
    // src/output/recap.ts replaces the host name as a substring (`items.split(host).join('<host>')`): on 10.77.1.2 the
    // load balancer address 10.77.1.20 becomes "<host>0", so two brokers with identical changes land in two blocks (and
    // the other way round, unrelated changes can be merged under a wrong "<host>" label).
    const change = 'create /etc/nftables.d/provision.nft (allow 22/tcp, 8883/tcp, 1884/tcp from 10.77.1.20)';
    const steps = ['10.77.1.2', '10.77.1.3'].map((h) => record(h, 'firewall', 'firewall (nftables)', 'changed', { changes: [change] }));
    expect(changeSection(renderRecap(report(steps, ['10.77.1.2', '10.77.1.3'])))).toEqual(['  10.77.1.2, 10.77.1.3', `    firewall: ${change}`]);
  });

  it('uses the step name when a changed record has no change summaries', () => {
    const steps = [record('h1', 'app', 'restart mosquitto and check it serves TLS logins', 'changed')];
    expect(changeSection(renderRecap(report(steps, ['h1'])))).toEqual(['  h1', '    app: restart mosquitto and check it serves TLS logins']);
  });

  it('says check mode: WOULD CHANGE, and that nothing was changed', () => {
    const steps = [record('mq1', 'base', 'packages', 'changed', { changes: ['install mosquitto'] })];
    const check = plain(renderRecap(report(steps, ['mq1'], { check: true })));
    expect(check).toContain('\nWOULD CHANGE\n');
    expect(check).not.toContain('\nCHANGED\n');
    expect(check.trimEnd().split('\n').at(-1)).toBe('12.3 s (check mode: nothing was changed)');
    const real = plain(renderRecap(report(steps, ['mq1'])));
    expect(real).toContain('\nCHANGED\n');
    expect(real).not.toContain('check mode');
    expect(real.trimEnd().split('\n').at(-1)).toBe('12.3 s');
  });

  it('lists each failed or unreachable host with its error', () => {
    const steps = [record('mq2', 'base', 'lists', 'failed', { message: 'boom' })];
    const text = plain(renderRecap(report(steps, ['mq1', 'mq2', 'lb1'], { states: { mq2: 'failed', lb1: 'unreachable' }, errors: { mq2: 'base: lists: boom', lb1: '[lb1] unreachable: connect ECONNREFUSED' } })));
    const lines = text.split('\n');
    const at = lines.indexOf('FAILED');
    expect(lines.slice(at, at + 3)).toEqual(['FAILED', '  mq2: base: lists: boom', '  lb1: [lb1] unreachable: connect ECONNREFUSED']);
  });

  it('no change and no failure: only the host lines and the duration', () => {
    const text = plain(renderRecap(report([record('mq1', 'base', 'lists', 'ok')], ['mq1'])));
    expect(text).not.toMatch(/CHANGED|WOULD CHANGE|FAILED/);
    expect(text.split('\n').filter(Boolean)).toHaveLength(3);
  });

  it('keeps one screen: at most 10 items per block and 6 blocks, long items cut', () => {
    // (maxLines: the screen is tall enough for 10 items per block; the limits per block and of blocks still hold.)
    const steps: StepRecord[] = [];
    for (let i = 1; i <= 12; i++) steps.push(record('big', 'r', `s${i}`, 'changed', { changes: [`change ${i}`] }));
    for (let h = 1; h <= 7; h++) steps.push(record(`solo${h}`, 'r', 's', 'changed', { changes: [`only on solo${h} ${'x'.repeat(h)}`] }));
    steps.push(record('long', 'r', 's', 'changed', { changes: ['y'.repeat(200)] }));
    const section = changeSection(renderRecap(report(steps, ['big', ...Array.from({ length: 7 }, (_, i) => `solo${i + 1}`), 'long']), { maxLines: 200, jsonFile: 'out.json' }));
    expect(section.slice(0, 12)).toEqual(['  big', ...Array.from({ length: 10 }, (_, i) => `    r: change ${i + 1}`), '    … and 2 more: other changes (all in out.json)']);
    expect(section.filter((l) => /^ {2}\S/.test(l) && !l.startsWith('  …'))).toHaveLength(6);
    expect(section.at(-1)).toBe('  … and 3 more hosts changed: solo6, solo7, long (all in out.json)');
  });

  it('cuts an item longer than 110 characters', () => {
    const steps = [record('h1', 'r', 's', 'changed', { changes: ['z'.repeat(200)] })];
    expect(changeSection(renderRecap(report(steps, ['h1'])))[1]).toBe(`    r: ${'z'.repeat(104)}...`);
  });

  it('a first run on 4 hosts (3 brokers, 1 load balancer) fits one screen, whole: the header and every host line', () => {
    // Before: 43 lines, the PLAY RECAP header scrolled off a 40-row terminal.
    const lines = plain(renderRecap(firstRunReport())).split('\n');
    expect(lines.length).toBeLessThanOrEqual(30);
    expect(lines[0]).toBe(`PLAY RECAP ${'*'.repeat(60)}`);
    expect(hostLines(lines.join('\n')).map((h) => h.host)).toEqual(['mq1', 'mq2', 'mq3', 'lb1']);
    expect(lines.at(-1)).toBe('74.2 s');
  });

  it('the important changes come first in each block: restarts, firewall, units, certificates before package lists', () => {
    const section = changeSection(renderRecap(firstRunReport(), { maxLines: 80 }));
    const block = (host: string) => {
      const at = section.indexOf(`  ${host}`);
      const end = section.findIndex((l, i) => i > at && /^ {2}\S/.test(l));
      return section.slice(at + 1, end < 0 ? undefined : end).map((l) => l.trim());
    };
    const at = (items: string[], re: RegExp) => items.findIndex((i) => re.test(i));
    // lb1: every change shown (7), the package lists last.
    const lb1 = block('lb1');
    expect(lb1).toHaveLength(7);
    expect(at(lb1, /^haproxy \(handler\): reload haproxy$/)).toBe(0);
    expect(at(lb1, /^firewall: /)).toBe(1);
    expect(at(lb1, /mqtt\.pem/)).toBeLessThan(at(lb1, /install haproxy/));
    expect(lb1.at(-1)).toBe('base: refresh package lists (never refreshed)');
    // mq1: 20 changes, 10 shown: the restart, the firewall, the units, then the certificates; the package lists hidden, last.
    const mq1 = block('mq1');
    expect(mq1.slice(0, 4)).toEqual([
      'mosquitto_config (handler): restart mosquitto',
      expect.stringMatching(/^firewall: create \/etc\/nftables\.d\/provision\.nft/),
      'exporter: create /etc/systemd/system/mosquitto-exporter.service',
      'exporter: enable mosquitto-exporter, start mosquitto-exporter',
    ]);
    expect(mq1[4]).toMatch(/^pki: create CA, issue certificate for mq1/);
    expect(mq1.join('\n')).not.toContain('refresh package lists');
    expect(mq1.at(-1)).toMatch(/^… and 10 more: .*, packages, package lists$/);
  });

  it('what does not fit is counted by kind, and points at --json only when a --json file was written', () => {
    const without = changeSection(renderRecap(firstRunReport()));
    const more = without.filter((l) => l.includes('… and'));
    expect(more.length).toBeGreaterThan(0);
    for (const l of more) {
      expect(l).not.toContain('--json');
      expect(l).toMatch(/… and \d+ more: [a-z ]+(, [a-z ]+)*$/);
    }
    const withJson = changeSection(renderRecap(firstRunReport(), { jsonFile: 'run.json' }));
    expect(withJson.filter((l) => l.includes('… and')).every((l) => l.endsWith('(all in run.json)'))).toBe(true);
  });
});
