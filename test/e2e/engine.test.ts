import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hostShell, sandboxDown, sandboxUp, stopHost, type Sandbox } from '../../src/sandbox/index.js';
import { changedCount, provision } from '../support/cli.js';

const PLAYBOOK = 'test/fixtures/playbooks/engine.yaml';
let sb: Sandbox;
let work: string;
const sh = async (host: string, cmd: string) => (await hostShell(sb.name, host, cmd)).stdout.trim();

describe('engine on real sandbox hosts', () => {
  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'provision-e2e-engine-'));
    sb = await sandboxUp({ name: 'e2e-engine', count: 3 });
  });
  afterAll(async () => {
    await sandboxDown({ name: 'e2e-engine' });
  });

  it('--check on fresh hosts changes nothing on them', async () => {
    const r = await provision(['-i', sb.inventoryPath, '--playbook', PLAYBOOK, '--check', '--diff'], { json: join(work, 'check.json') });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(changedCount(r.report!)).toBeGreaterThan(0);
    expect(r.stdout).toContain('check mode');
    expect(await sh('node1', 'test -e /etc/selftest && echo yes || echo no')).toBe('no');
    expect(await sh('node1', 'command -v jq || echo none')).toBe('none');
  });

  it('--limit and --phase restrict what runs', async () => {
    const r = await provision(['-i', sb.inventoryPath, '--playbook', PLAYBOOK, '--limit', 'node1', '--phase', 'build'], { json: join(work, 'limit.json') });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.report!.hosts.map((h) => h.host)).toEqual(['node1']);
    expect(new Set(r.report!.steps.map((s) => s.phase))).toEqual(new Set(['build']));
    expect(await sh('node1', 'command -v jq')).toBe('/usr/bin/jq');
    expect(await sh('node2', 'command -v jq || echo none')).toBe('none');
    expect(await sh('node1', 'test -e /etc/selftest && echo yes || echo no')).toBe('no');
  });

  it('a full run converges, a second run changes nothing within 3 round trips per phase', async () => {
    const secretFile = join(work, 'token');
    writeFileSync(secretFile, 'S3cr3t-T0ken-value\n');
    const binary = join(work, 'tool');
    writeFileSync(binary, '#!/bin/sh\necho tool\n', { mode: 0o755 });
    const extra = ['-e', `selftest_copy_src=${binary}`];
    const env = { SELFTEST_TOKEN: 'S3cr3t-T0ken-value' };
    const inv = join(work, 'inventory.yaml');
    writeFileSync(inv, `all:\n  vars:\n    selftest_secret: "{{ lookup('env', 'SELFTEST_TOKEN') }}"\n`);
    const first = await provision(['-i', sb.inventoryPath, '-i', inv, '--playbook', PLAYBOOK, '--diff', ...extra], { json: join(work, 'first.json'), env });
    expect(first.code, first.stdout + first.stderr).toBe(0);
    expect(first.stdout + first.stderr).not.toContain('S3cr3t-T0ken-value');
    expect(await sh('node2', 'systemctl is-active selftest')).toBe('active');
    expect(await sh('node2', 'stat -c "%U %G %a" /etc/selftest/message.conf')).toBe('root selftest 640');
    expect(await sh('node3', 'cat /etc/selftest/secret.env')).toBe('TOKEN=S3cr3t-T0ken-value');
    expect(await sh('node3', 'nft list table inet provision >/dev/null && echo ok')).toBe('ok');

    const second = await provision(['-i', sb.inventoryPath, '-i', inv, '--playbook', PLAYBOOK, ...extra], { json: join(work, 'second.json'), env });
    expect(second.code, second.stdout).toBe(0);
    expect(changedCount(second.report!), second.stdout).toBe(0);
    for (const h of second.report!.hosts) expect(h.roundTrips, h.host).toBeLessThanOrEqual(1 + 3 * 3);
  });

  it('a changed file notifies its handler once, and --diff shows it with secrets masked', async () => {
    const r = await provision(['-i', sb.inventoryPath, '--playbook', PLAYBOOK, '--limit', 'node1', '--phase', 'configure', '--diff', '-e', 'selftest_message=changed'], { json: join(work, 'diff.json') });
    expect(r.code, r.stdout).toBe(0);
    expect(r.stdout).toContain('+message = changed');
    const restarts = r.report!.steps.filter((s) => s.step.includes('selftest') && s.kind === 'handler');
    expect(restarts.length).toBe(1);
  });

  it('a wrong host key is refused with its fingerprint', async () => {
    const kh = join(work, 'bad_known_hosts');
    writeFileSync(kh, `${sb.hosts[0]!.address} ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl\n`);
    const r = await provision(['-i', sb.inventoryPath, '--playbook', PLAYBOOK, '--limit', 'node1', '--known-hosts', kh, '-e', `provision_known_hosts_file=${kh}`]);
    expect(r.code).toBe(3);
    expect(r.stdout + r.stderr).toMatch(/HOST KEY CHANGED.*SHA256:/);
  });

  it('a non-root user with sudo and a password works with become; the password is never shown', async () => {
    await sh('node3', "id deploy >/dev/null 2>&1 || useradd -m -s /bin/bash deploy; echo 'deploy:Dep1oy-Pa55' | chpasswd; mkdir -p ~deploy/.ssh; cp /root/.ssh/authorized_keys ~deploy/.ssh/; chown -R deploy: ~deploy/.ssh; echo 'deploy ALL=(ALL) ALL' > /etc/sudoers.d/deploy");
    const inv = join(work, 'deploy.yaml');
    writeFileSync(inv, `all:\n  vars:\n    ansible_user: deploy\n    ansible_become: true\n    ansible_become_password: "{{ lookup('env', 'DEPLOY_PW') }}"\n`);
    const r = await provision(['-i', sb.inventoryPath, '-i', inv, '--playbook', PLAYBOOK, '--limit', 'node3', '--phase', 'configure', '-e', 'selftest_message=via-sudo', '--diff'], { env: { DEPLOY_PW: 'Dep1oy-Pa55' } });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout + r.stderr).not.toContain('Dep1oy-Pa55');
    expect(await sh('node3', 'cat /etc/selftest/message.conf')).toBe('message = via-sudo');
    const wrong = await provision(['-i', sb.inventoryPath, '-i', inv, '--playbook', PLAYBOOK, '--limit', 'node3', '--phase', 'configure'], { env: { DEPLOY_PW: 'wrong-password' } });
    expect(wrong.code).toBe(2);
    expect(wrong.stdout + wrong.stderr).toMatch(/sudo/);
  });

  it('a host stopped mid-run fails alone; the others finish', async () => {
    let stopped = false;
    const run = provision(['-i', sb.inventoryPath, '--playbook', PLAYBOOK, '-e', 'selftest_message=third', '-e', 'selftest_slow_seconds=4'], {
      json: join(work, 'stop.json'),
      onStdout: (s) => {
        if (!stopped && s.includes('PHASE [configure]')) {
          stopped = true;
          void stopHost(sb.name, 'node2');
        }
      },
    });
    const r = await run;
    expect([2, 3]).toContain(r.code);
    const byHost = Object.fromEntries(r.report!.hosts.map((h) => [h.host, h]));
    expect(byHost.node1!.state).toBe('ok');
    expect(byHost.node3!.state).toBe('ok');
    expect(byHost.node2!.state).not.toBe('ok');
    expect(await sh('node1', 'cat /etc/selftest/message.conf')).toBe('message = third');
  });
});
