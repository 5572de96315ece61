/**
 * One host's transport fault stays that host's, on real sandbox hosts: hosts whose SSH port accepts and closes,
 * or whose sshd refuses new connections (MaxStartups 1:100:1 with one unauthenticated connection held), are
 * unreachable (exit 3); the real hosts converge; the recap lists every host; --json is written. And a
 * connection cut mid-run makes only its host unreachable; the next run converges it.
 */
import type net from 'node:net';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hostShell, sandboxDown, sandboxUp, type Sandbox } from '../../src/sandbox/index.js';
import { changedCount, provision } from '../support/cli.js';
import { startFaultServer, type FaultServer } from '../support/fault-servers.js';
import { holdConnection, startLoopbackSshd, type LoopbackSshd } from '../support/loopback-sshd.js';

const NAME = 'a-fault';
const PLAYBOOK = 'test/fixtures/playbooks/transport-faults.yaml';
let sb: Sandbox;
let work: string;
let closer: FaultServer;
let sshd: LoopbackSshd;
let held: net.Socket | undefined;
const sh = async (host: string, cmd: string) => (await hostShell(sb.name, host, cmd)).stdout.trim();

const until = async (cond: () => Promise<boolean>, what: string) => {
  const deadline = Date.now() + 120_000;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
};

describe('transport faults next to real sandbox hosts', () => {
  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'a-e2e-fault-'));
    await sandboxDown({ name: NAME }); // leftovers of an interrupted run
    sb = await sandboxUp({ name: NAME, count: 2 });
    closer = await startFaultServer('accept-close');
    sshd = await startLoopbackSshd(['MaxStartups 1:100:1']);
  });
  afterAll(async () => {
    held?.destroy();
    await closer?.close();
    await sshd?.stop();
    await sandboxDown({ name: NAME });
  });

  it('broken hosts are unreachable, the real hosts converge: exit 3, every host in the recap, --json written', async () => {
    held = await holdConnection(sshd.port);
    const faulty = join(work, 'faulty.yaml');
    writeFileSync(
      faulty,
      [
        'faulty:',
        '  vars:',
        '    ansible_host: 127.0.0.1',
        '    ansible_timeout: 3',
        '  hosts:',
        `    closer: { ansible_port: ${closer.port} }`,
        `    throttled: { ansible_port: ${sshd.port}, ansible_ssh_private_key_file: ${sshd.keyPath}, provision_known_hosts_file: ${sshd.knownHostsFile} }`,
        '',
      ].join('\n'),
    );
    const r = await provision(['-i', sb.inventoryPath, '-i', faulty, '--playbook', PLAYBOOK], { json: join(work, 'faults.json') });
    expect(r.code, r.stdout + r.stderr).toBe(3);
    expect(r.stdout + r.stderr).not.toMatch(/^\s+at |Unhandled 'error' event/m);
    for (const h of ['node1', 'node2', 'closer', 'throttled']) expect(r.stdout).toMatch(new RegExp(`PLAY RECAP[\\s\\S]*\\n\\s*${h}\\s+: ok=`));
    const byHost = Object.fromEntries(r.report!.hosts.map((h) => [h.host, h]));
    expect(Object.keys(byHost).sort()).toEqual(['closer', 'node1', 'node2', 'throttled']);
    expect(byHost.node1).toMatchObject({ state: 'ok', failed: 0 });
    expect(byHost.node2).toMatchObject({ state: 'ok', failed: 0 });
    expect(byHost.node1!.changed).toBeGreaterThan(0);
    expect(byHost.closer).toMatchObject({ state: 'unreachable' });
    expect(byHost.throttled).toMatchObject({ state: 'unreachable' });
    expect(byHost.closer!.error).toMatch(new RegExp(`^unreachable: .*127\\.0\\.0\\.1:${closer.port}, \\d+ attempts\\)`));
    expect(byHost.throttled!.error).toMatch(new RegExp(`^unreachable: .*127\\.0\\.0\\.1:${sshd.port}, \\d+ attempts\\)`));
    expect(closer.accepted).toBeGreaterThan(1); // retried, but boundedly (the error names the count)
    expect(await sh('node2', 'systemctl is-active selftest')).toBe('active');
    expect(await sh('node1', 'command -v jq')).toBe('/usr/bin/jq');

    // Converged: the real hosts alone have nothing left to change.
    const again = await provision(['-i', sb.inventoryPath, '--playbook', PLAYBOOK], { json: join(work, 'again.json') });
    expect(again.code, again.stdout + again.stderr).toBe(0);
    expect(changedCount(again.report!), again.stdout).toBe(0);
    held.destroy();
    held = undefined;
  });

  it('a connection cut mid-run makes only that host unreachable; the next run converges it', async () => {
    const run = provision(['-i', sb.inventoryPath, '--playbook', PLAYBOOK, '-e', 'selftest_message=cut', '-e', 'selftest_slow_seconds=15'], { json: join(work, 'cut.json') });
    // While node2 runs its slow step, kill the sshd processes serving provision's connection (by PID, inside node2).
    const sessions = async () => (await sh('node2', "ps -eo pid=,args= | awk '$2 ~ /^sshd:/ && $3 ~ /^root/ {print $1}'")).split('\n').filter(Boolean);
    await until(async () => (await sh('node2', "ps -eo args= | grep -cx 'sleep 15' || true")) !== '0', 'the slow step on node2');
    const pids = await sessions();
    expect(pids.length).toBeGreaterThan(0);
    await sh('node2', `kill -9 ${pids.join(' ')}`);
    const r = await run;
    expect(r.code, r.stdout + r.stderr).toBe(3);
    expect(r.stdout + r.stderr).not.toMatch(/^\s+at |Unhandled 'error' event/m);
    const byHost = Object.fromEntries(r.report!.hosts.map((h) => [h.host, h]));
    expect(byHost.node1).toMatchObject({ state: 'ok', failed: 0 });
    expect(byHost.node2).toMatchObject({ state: 'unreachable' });
    expect(r.report!.steps).toContainEqual(expect.objectContaining({ host: 'node2', step: 'a slow step', status: 'unreachable' }));
    expect(r.stdout).toMatch(/PLAY RECAP[\s\S]*node1\s+: ok=[\s\S]*node2\s+: ok=\d+\s+changed=\d+\s+unreachable=1/);
    expect(await sh('node1', 'cat /etc/selftest/message.conf')).toBe('message = cut');

    const next = await provision(['-i', sb.inventoryPath, '--playbook', PLAYBOOK, '-e', 'selftest_message=cut'], { json: join(work, 'healed.json') });
    expect(next.code, next.stdout + next.stderr).toBe(0);
    expect(await sh('node2', 'cat /etc/selftest/message.conf')).toBe('message = cut');
    const last = await provision(['-i', sb.inventoryPath, '--playbook', PLAYBOOK, '-e', 'selftest_message=cut'], { json: join(work, 'last.json') });
    expect(changedCount(last.report!), last.stdout).toBe(0);
  });
});
