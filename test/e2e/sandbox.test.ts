// End-to-end test of the local sandbox: real Debian 12 hosts booted with systemd-nspawn.
// Needs root on a Linux (Debian) machine; the first run also builds the cached base tree (~1-2 min).
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import {
  hostShell,
  rebootHost,
  sandboxDown,
  sandboxStatus,
  sandboxUp,
  startHost,
  stopHost,
  type Sandbox,
} from '../../src/sandbox/index.js';

const NAME = 't-sandbox';
const isRoot = process.platform === 'linux' && process.getuid?.() === 0;

function ssh(sb: Sandbox, address: string, command: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      'ssh',
      [
        '-i',
        sb.keyPath,
        '-o',
        `UserKnownHostsFile=${sb.knownHostsPath}`,
        '-o',
        'StrictHostKeyChecking=yes',
        '-o',
        'BatchMode=yes',
        '-o',
        'IdentitiesOnly=yes',
        '-o',
        'ConnectTimeout=5',
        `root@${address}`,
        command,
      ],
      { timeout: 60_000 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : 255) : 0;
        resolve({ code, stdout: String(stdout), stderr: String(stderr) });
      },
    );
  });
}

async function sh(host: string, command: string) {
  return hostShell(NAME, host, command);
}

describe.skipIf(!isRoot)('sandbox (systemd-nspawn hosts)', () => {
  let sb: Sandbox;

  beforeAll(async () => {
    await sandboxDown({ name: NAME }); // leftovers of an interrupted run
    sb = await sandboxUp({ name: NAME, count: 2, log: (l) => console.log(`[sandbox] ${l}`) });
  }, 300_000);

  afterAll(async () => {
    await sandboxDown({ name: NAME });
    expect(await sandboxStatus({ name: NAME })).toBeUndefined();
  }, 120_000);

  it('describes the sandbox and writes inventory + known_hosts', () => {
    expect(sb.name).toBe(NAME);
    expect(sb.hosts.map((h) => h.name)).toEqual(['node1', 'node2']);
    expect(sb.hosts[0].address).toBe(`10.77.${sb.index}.11`);
    expect(sb.hosts.every((h) => h.running && h.pid)).toBe(true);
    const inv = readFileSync(sb.inventoryPath, 'utf8');
    expect(inv).toContain('ansible_user: root');
    expect(inv).toContain(`ansible_ssh_private_key_file: ${sb.keyPath}`);
    expect(inv).toContain(`node2: { ansible_host: 10.77.${sb.index}.12 }`);
    const kh = readFileSync(sb.knownHostsPath, 'utf8');
    expect(kh).toMatch(new RegExp(`^10\\.77\\.${sb.index}\\.11 ssh-ed25519 AAAA`, 'm'));
    expect(existsSync(sb.keyPath)).toBe(true);
  });

  it('is idempotent: a second up changes nothing and is fast', async () => {
    const t = Date.now();
    const again = await sandboxUp({ name: NAME, count: 2 });
    expect(Date.now() - t).toBeLessThan(5_000);
    expect(again.hosts.map((h) => h.pid)).toEqual(sb.hosts.map((h) => h.pid));
  }, 60_000);

  it('accepts ssh as root with the sandbox key and strict host key checking', async () => {
    for (const h of sb.hosts) {
      const r = await ssh(sb, h.address, 'hostname');
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(r.stdout.trim()).toBe(h.name);
    }
  }, 60_000);

  it('runs systemd as PID 1', async () => {
    const r = await sh('node1', 'ps -p 1 -o comm=; timeout 60 systemctl is-system-running --wait');
    const [comm, state] = r.stdout.trim().split('\n');
    expect(comm).toBe('systemd');
    expect(['running', 'degraded']).toContain(state);
  }, 90_000);

  it('resolves the other hosts by name', async () => {
    const r = await sh('node1', 'getent hosts node2');
    expect(r.stdout).toContain(sb.hosts[1].address);
  });

  it('cannot reach the Internet (fails fast) but installs packages through the apt proxy', async () => {
    const out = await sh(
      'node2',
      't=$(date +%s); curl -sS -m 3 http://deb.debian.org/ >/dev/null 2>&1; a=$?; ' +
        'curl -sS -m 3 http://198.51.100.1/ >/dev/null 2>&1; b=$?; echo "$a $b $(( $(date +%s) - t ))"',
    );
    const [a, b, secs] = out.stdout.trim().split(' ').map(Number);
    expect(a).not.toBe(0);
    expect(b).not.toBe(0);
    expect(secs).toBeLessThan(3); // rejected at once, no 3 s timeouts
    const up = await sh('node2', 'apt-get update -q 2>&1');
    expect(up.stdout).not.toMatch(/^(E|W): /m);
    expect(up.code).toBe(0);
    expect(up.stdout).toContain('bookworm-security');
  }, 180_000);

  it('lets the host manage its own firewall (nft)', async () => {
    const r = await sh(
      'node1',
      'nft add table inet t && nft add chain inet t c "{ type filter hook input priority 0; }" && nft list ruleset && nft delete table inet t',
    );
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('table inet t');
  });

  it('reboots a host and keeps its disk', async () => {
    await sh('node1', 'echo before-reboot > /root/marker');
    const before = (await sandboxStatus({ name: NAME }))!.hosts[0].pid;
    const t = Date.now();
    await rebootHost(NAME, 'node1');
    console.log(`[sandbox] reboot took ${Date.now() - t} ms`);
    const after = (await sandboxStatus({ name: NAME }))!.hosts[0];
    expect(after.running).toBe(true);
    expect(after.pid).not.toBe(before);
    const r = await ssh(sb, after.address, 'cat /root/marker; ps -o etimes= -p 1');
    expect(r.code).toBe(0);
    const [marker, age] = r.stdout.trim().split('\n');
    expect(marker).toBe('before-reboot');
    expect(Number(age)).toBeLessThan(60);
  }, 120_000);

  it('powers a host off and on again', async () => {
    await sh('node2', 'echo kept > /root/marker2');
    await stopHost(NAME, 'node2');
    let st = (await sandboxStatus({ name: NAME }))!;
    expect(st.hosts[1].running).toBe(false);
    expect(st.hosts[1].pid).toBeUndefined();
    expect(st.hosts[0].running).toBe(true);
    const down = await ssh(sb, st.hosts[1].address, 'true');
    expect(down.code).not.toBe(0);
    await stopHost(NAME, 'node2'); // twice is fine
    await startHost(NAME, 'node2');
    st = (await sandboxStatus({ name: NAME }))!;
    expect(st.hosts[1].running).toBe(true);
    const r = await ssh(sb, st.hosts[1].address, 'cat /root/marker2');
    expect(r.stdout.trim()).toBe('kept');
  }, 120_000);
});
