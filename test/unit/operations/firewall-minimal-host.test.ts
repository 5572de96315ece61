// Hosts installed without netbase (Debian minbase, slim images) have no /etc/protocols or /etc/services: the
// generated nftables file must name no protocol or service that only those databases resolve.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseHostFacts } from '../../../src/facts/gather-host-facts.js';
import { renderNftables } from '../../../src/operations/firewall/nftables.js';
import { effectiveRules } from '../../../src/operations/firewall/rules.js';
import { offlineContext } from '../../support/recorded-facts.js';
import { writeFileActions } from '../../../src/operations/write-file.js';

const debian = parseHostFacts('mq1', readFileSync(join(import.meta.dirname, '../../fixtures/facts/debian12/host-facts.txt'), 'utf8'));

/** Every kind of rule the firewall role generates: TCP/UDP from anywhere and from v4/v6 sources, VRRP. */
const ruleset = renderNftables(
  effectiveRules(offlineContext(debian), {
    allow: [
      { port: 8883, comment: 'MQTT over TLS' },
      { port: 9234, sources: ['10.0.0.0/8', '2001:db8::/32'] },
      { port: 5353, proto: 'udp', sources: ['192.168.1.7'] },
      { port: 0, proto: 'vrrp', sources: ['10.77.1.2', '10.77.1.3'] },
    ],
  }),
);

/** Protocol keywords nft 1.0.6 knows itself (checked with /etc/protocols hidden); anything else must be a number. */
const NFT_BUILTIN_PROTOCOLS = new Set(['tcp', 'udp', 'icmp', 'icmpv6']);

/** Runs nft -c in a private mount namespace where /etc/protocols and /etc/services are empty (as root only). */
function nftCheckWithoutNetbase(text: string): { code: number | null; stderr: string } {
  const f = join(mkdtempSync(join(tmpdir(), 'provision-nft-')), 'rules.nft');
  writeFileSync(f, text);
  const r = spawnSync('unshare', ['-m', 'sh', '-c', 'mount --bind /dev/null /etc/protocols && mount --bind /dev/null /etc/services && exec nft -c -f "$1"', 'sh', f], { encoding: 'utf8' });
  return { code: r.status, stderr: r.stderr };
}
const canCheck = process.getuid?.() === 0 && existsSync('/usr/sbin/nft') && spawnSync('unshare', ['-m', 'true']).status === 0;

describe('nftables rules on a host without netbase', () => {
  it('name protocols only by nft keywords or numbers, ports only by number', () => {
    const protocols = [...ruleset.matchAll(/\b(?:l4proto|protocol)\s+(\{[^}]*\}|\S+)/g)].flatMap((m) => m[1]!.replace(/[{}]/g, '').split(',').map((s) => s.trim()));
    expect(protocols.length).toBeGreaterThanOrEqual(3);
    for (const p of protocols) expect(NFT_BUILTIN_PROTOCOLS.has(p) || /^\d+$/.test(p), `protocol ${p}`).toBe(true);
    const ports = [...ruleset.matchAll(/\b[sd]port\s+(\S+)/g)].map((m) => m[1]!);
    expect(ports).toEqual(['22', '8883', '9234', '9234', '5353']);
    expect(ruleset).toContain('meta l4proto icmpv6 accept');
    expect(ruleset).toContain('ip saddr { 10.77.1.2, 10.77.1.3 } ip protocol 112 accept');
  });

  it.skipIf(!canCheck)('load with nft -c when /etc/protocols and /etc/services are empty (the old ipv6-icmp name does not)', () => {
    // Control: the name the old file used fails in this namespace, so the check below proves something.
    const old = nftCheckWithoutNetbase(ruleset.replace('meta l4proto icmpv6', 'meta l4proto ipv6-icmp'));
    expect(old.code).not.toBe(0);
    expect(old.stderr).toContain('Could not resolve protocol name');
    const now = nftCheckWithoutNetbase(ruleset);
    expect(now.stderr).toBe('');
    expect(now.code).toBe(0);
  });
});

describe('a validated write that fails', () => {
  it('names the file it would replace, the command as run and the validator error; the file stays', () => {
    const dir = mkdtempSync(join(tmpdir(), 'provision-validate-'));
    const path = join(dir, 'rules.nft');
    writeFileSync(path, 'old\n');
    const [action] = writeFileActions({ path, data: Buffer.from('new\n'), mode: '0644', validate: 'ls %s /nonexistent-d-check' });
    const r = spawnSync('sh', ['-c', (action as { script: string }).script], { encoding: 'utf8' });
    expect(r.status).toBe(1);
    const lines = r.stderr.trim().split('\n');
    expect(lines[0]).toMatch(new RegExp(`^validation of the new ${path} failed \\(the file stays as it was\\): ls ${dir}/\\.rules\\.nft\\.provision-\\w{6} /nonexistent-d-check$`));
    expect(r.stderr).toMatch(/nonexistent-d-check.*No such file/);
    expect(r.stderr).not.toContain('%s');
    expect(readFileSync(path, 'utf8')).toBe('old\n');
  });
});
