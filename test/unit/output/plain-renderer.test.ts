/** The plain renderer (CI logs, pipes): one line per event, the host named once, the label matching how it is counted. */
import { describe, expect, it } from 'vitest';
import { plainRenderer } from '../../../src/output/plain-renderer.js';

// eslint-disable-next-line no-control-regex
const plain = (s: string) => s.replace(/\x1b\[[0-9;]*m/g, '');

function capture() {
  const lines: string[] = [];
  return { lines, r: plainRenderer({ diff: false, verbose: false, write: (s) => lines.push(plain(s)) }) };
}

describe('plainRenderer', () => {
  it('a connection that failed is labelled as it is counted: failed (sudo refused) or unreachable, the host once', () => {
    const { lines, r } = capture();
    r.hostConnectFailed!('mq2', 'become (sudo) failed: sudo refused the become password (wrong ansible_become_password?)', 'failed');
    r.hostConnectFailed!('mq3', 'unreachable: connect ECONNREFUSED 10.77.0.4:22', 'unreachable');
    expect(lines).toEqual(['failed: [mq2] become (sudo) failed: sudo refused the become password (wrong ansible_become_password?)', 'unreachable: [mq3] connect ECONNREFUSED 10.77.0.4:22']);
  });

  it('plays overlapping (a build beside the earlier play): a phase of another play than the last PLAY line names its play again', () => {
    const { lines, r } = capture();
    r.playStart!('Mosquitto brokers', ['mq1']);
    r.phaseStart!('Mosquitto brokers', 'build', ['mq1']);
    r.playStart!('Load balancers', ['lb1']);
    r.phaseStart!('Load balancers', 'build', ['lb1']);
    r.phaseStart!('Mosquitto brokers', 'configure', ['mq1']);
    expect(lines.filter((l) => l.includes('[')).map((l) => l.replace(/ \*+/, '').trim())).toEqual([
      'PLAY [Mosquitto brokers] mq1',
      'PHASE [build]',
      'PLAY [Load balancers] lb1',
      'PHASE [build]',
      'PLAY [Mosquitto brokers] (continued)',
      'PHASE [configure]',
    ]);
  });

  it('a failed step: the host once, role and step, the message', () => {
    const { lines, r } = capture();
    r.stepEnd!({ host: 'mq2', play: 'p', phase: 'build', role: 'base', step: 'base tools', status: 'failed', changed: false, durationMs: 1200, message: 'command failed (exit 100): install jq\nE: Unable to locate package jq' });
    expect(lines).toEqual(['failed: [mq2] base | base tools: command failed (exit 100): install jq\nE: Unable to locate package jq (1.2s)']);
  });
});
