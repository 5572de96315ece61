import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { provision } from '../../support/cli.js';
import { startFaultServer, type FaultServer } from '../../support/fault-servers.js';
import { startLoopbackSshd, type LoopbackSshd } from '../../support/loopback-sshd.js';

// The real CLI against a private sshd on loopback (hosts = this machine, read-only: host facts and a
// controller-side change), plus a port that accepts and closes.
const PLAYBOOK = 'test/fixtures/playbooks/fault.yaml';
let sshd: LoopbackSshd;
let broken: FaultServer;
let work: string;

function inventory(name: string, hosts: Record<string, string>): string {
  const p = join(work, `${name}.yaml`);
  const lines = Object.entries(hosts).map(([h, vars]) => `    ${h}: { ansible_host: 127.0.0.1${vars ? `, ${vars}` : ''} }`);
  writeFileSync(
    p,
    `all:\n  vars:\n    ansible_user: root\n    ansible_port: ${sshd.port}\n    ansible_ssh_private_key_file: ${sshd.keyPath}\n    provision_known_hosts_file: ${sshd.knownHostsFile}\n    ansible_timeout: 3\n  hosts:\n${lines.join('\n')}\n`,
  );
  return p;
}

describe('the CLI when a host or the controller itself breaks mid-run', () => {
  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'a-last-resort-'));
    sshd = await startLoopbackSshd();
    broken = await startFaultServer('accept-close');
  });
  afterAll(async () => {
    await broken?.close();
    await sshd?.stop();
  });

  it('a host behind an accept-and-close port is unreachable; the other finishes; exit 3, recap and report', async () => {
    const inv = inventory('unreachable', { good: '', bad: `ansible_port: ${broken.port}` });
    const r = await provision(['-i', inv, '--playbook', PLAYBOOK], { json: join(work, 'unreachable.json') });
    expect(r.code, r.stdout + r.stderr).toBe(3);
    expect(r.stdout + r.stderr).not.toMatch(/^\s+at /m);
    expect(r.stdout).toMatch(/PLAY RECAP[\s\S]*good\s+: ok=2\s+changed=1\s+unreachable=0[\s\S]*bad\s+: ok=0\s+changed=0\s+unreachable=1/);
    const byHost = Object.fromEntries(r.report!.hosts.map((h) => [h.host, h]));
    expect(byHost.good).toMatchObject({ state: 'ok', changed: 1 });
    expect(byHost.bad).toMatchObject({ state: 'unreachable' });
    expect(byHost.bad!.error).toMatch(/^unreachable: .* \(127\.0\.0\.1:\d+, 3 attempts\)/);
  });

  it.each(['exception', 'rejection'])('an uncaught %s still prints the recap and writes the report, then one line and exit 1', async (kind) => {
    const inv = inventory(kind, { calm: '', crashing: `fault_crash: ${kind}` });
    const r = await provision(['-i', inv, '--playbook', PLAYBOOK], { json: join(work, `${kind}.json`) });
    expect(r.code, r.stdout + r.stderr).toBe(1);
    expect(r.stdout + r.stderr).not.toMatch(/^\s+at /m);
    expect(r.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^provision: internal error: boom: .* \(run with --verbose for details\)$/)]);
    expect(r.stdout).toMatch(/PLAY RECAP[\s\S]*calm\s+:[\s\S]*crashing\s+:[\s\S]*RUN INTERRUPTED\n\s+internal error: boom/);
    expect(r.report!.interrupted).toMatch(/^internal error: boom/);
    expect(r.report!.hosts.map((h) => h.host)).toEqual(['calm', 'crashing']);
    expect(r.report!.steps).toContainEqual(expect.objectContaining({ host: 'crashing', step: 'note before the crash', status: 'changed' }));
  });

  it('with --verbose the internal error comes with its stack trace', async () => {
    const inv = inventory('verbose', { crashing: 'fault_crash: exception' });
    const r = await provision(['-i', inv, '--playbook', PLAYBOOK, '--verbose']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/provision: internal error: boom: thrown in a timer\nError: boom: thrown in a timer\n\s+at /);
  });
});
