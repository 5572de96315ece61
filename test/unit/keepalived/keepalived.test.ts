import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { InputError } from '../../../src/errors.js';
import { containsSecret, Secret } from '../../../src/secrets.js';
import {
  DEFAULT_HAPROXY_CHECK_SCRIPT,
  renderKeepalivedConfig,
  type KeepalivedConfigInput,
} from '../../../src/keepalived/config.js';

const KEEPALIVED = '/usr/sbin/keepalived';

function input(over: Partial<KeepalivedConfigInput> = {}): KeepalivedConfigInput {
  return {
    vip: '10.77.0.100/24',
    interface: 'eth0',
    routerId: 51,
    priority: 150,
    peers: ['10.77.0.12', '10.77.0.13'],
    selfAddress: '10.77.0.11',
    ...over,
  };
}

function directives(cfg: string): string[] {
  return cfg
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#') && !l.startsWith('!'));
}

/** The lines between `name {` and its closing brace (one nesting level). */
function block(cfg: string, name: string): string[] {
  const d = directives(cfg);
  const start = d.indexOf(`${name} {`);
  if (start < 0) return [];
  const out: string[] = [];
  let depth = 1;
  for (const l of d.slice(start + 1)) {
    if (l.endsWith('{')) depth++;
    if (l === '}') depth--;
    if (depth === 0) break;
    out.push(l);
  }
  return out;
}

describe('renderKeepalivedConfig', () => {
  it('renders a unicast VRRP instance that tracks HAProxy', () => {
    const cfg = renderKeepalivedConfig(input());
    const inst = block(cfg, 'vrrp_instance VI_MQTT_51');
    expect(inst).toContain('state BACKUP');
    expect(inst).toContain('nopreempt');
    expect(inst).toContain('interface eth0');
    expect(inst).toContain('virtual_router_id 51');
    expect(inst).toContain('priority 150');
    expect(inst).toContain('advert_int 1');
    expect(inst).toContain('unicast_src_ip 10.77.0.11');
    expect(block(cfg, 'unicast_peer')).toEqual(['10.77.0.12', '10.77.0.13']);
    expect(block(cfg, 'virtual_ipaddress')).toEqual(['10.77.0.100/24 dev eth0']);
    expect(block(cfg, 'track_script')).toEqual(['chk_haproxy']);
    const chk = block(cfg, 'vrrp_script chk_haproxy');
    expect(chk).toContain(`script "${DEFAULT_HAPROXY_CHECK_SCRIPT}"`);
    expect(chk).toContain('interval 1');
    expect(chk).toContain('fall 2');
    expect(chk).toContain('rise 2');
    // No weight: a failed check must mean FAULT (nopreempt ignores priority changes).
    expect(chk.some((l) => l.startsWith('weight'))).toBe(false);
    expect(block(cfg, 'global_defs')).toEqual(['script_user root', 'enable_script_security']);
    expect(cfg).not.toContain('authentication');
  });

  it('drops selfAddress and duplicates from the peers', () => {
    const cfg = renderKeepalivedConfig(input({ peers: ['10.77.0.11', '10.77.0.12', '10.77.0.12'] }));
    expect(block(cfg, 'unicast_peer')).toEqual(['10.77.0.12']);
  });

  it('writes the VRRP password only when given, and a custom check script', () => {
    const cfg = renderKeepalivedConfig(input({ authPass: new Secret('vrrpPw12'), checkScript: '/usr/bin/systemctl is-active --quiet haproxy' }));
    expect(block(cfg, 'authentication')).toEqual(['auth_type PASS', 'auth_pass vrrpPw12']);
    expect(cfg).toContain('script "/usr/bin/systemctl is-active --quiet haproxy"');
    expect(cfg).toContain('root:root 0600');
    expect(containsSecret(cfg)).toBe(true); // the caller must treat this file as secret
  });

  it('is deterministic', () => {
    const a = renderKeepalivedConfig(input({ authPass: new Secret('vrrpPw12') }));
    expect(renderKeepalivedConfig(input({ authPass: new Secret('vrrpPw12') }))).toBe(a);
    expect(a.endsWith('}\n')).toBe(true);
  });

  it('rejects invalid input', () => {
    const bad: Partial<KeepalivedConfigInput>[] = [
      { vip: '10.77.0.100' },
      { vip: '10.77.0.300/24' },
      { vip: '10.77.0.100/33' },
      { interface: 'eth0 foo' },
      { routerId: 0 },
      { routerId: 256 },
      { priority: 255 },
      { priority: 0 },
      { selfAddress: 'lb1' },
      { peers: ['10.77.0.12', 'not-an-ip'] },
      { peers: ['fd00::2'] },
      { authPass: new Secret('longer-than-8') },
      { authPass: new Secret('a b') },
      { checkScript: 'pidof haproxy' },
      { checkScript: '/bin/sh -c "x"' },
    ];
    for (const over of bad) expect(() => renderKeepalivedConfig(input(over)), JSON.stringify(over)).toThrow(InputError);
  });
});

const haveKeepalived = existsSync(KEEPALIVED);
if (!haveKeepalived) console.warn(`SKIP keepalived -t: ${KEEPALIVED} is missing (apt-get install -y keepalived)`);

describe.skipIf(!haveKeepalived)('keepalived -t accepts the generated config', () => {
  const dir = haveKeepalived ? mkdtempSync(join(tmpdir(), 'provision-keepalived-')) : '';
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });
  // keepalived -t checks that the interface exists: use one this machine has.
  const iface = Object.keys(networkInterfaces()).find((n) => n !== 'lo') ?? 'lo';

  for (const [label, over] of [
    ['defaults', {}],
    ['with authentication and a systemctl check', { authPass: new Secret('vrrpPw12'), checkScript: '/usr/bin/systemctl is-active --quiet haproxy' }],
  ] as const) {
    it(label, () => {
      const file = join(dir, `${label.replace(/\W+/g, '-')}.conf`);
      writeFileSync(file, renderKeepalivedConfig(input({ interface: iface, ...over })), { mode: 0o600 });
      const r = spawnSync(KEEPALIVED, ['-t', '-f', file], { encoding: 'utf8' });
      const output = `${r.stdout}${r.stderr}`;
      expect(r.status, output).toBe(0);
      expect(output).not.toMatch(/WARNING|error/i);
    });
  }

  it('control: keepalived -t does reject a broken file', () => {
    const file = join(dir, 'broken.conf');
    writeFileSync(file, renderKeepalivedConfig(input({ interface: 'nosuchif0' })), { mode: 0o600 });
    const r = spawnSync(KEEPALIVED, ['-t', '-f', file], { encoding: 'utf8' });
    expect(r.status).not.toBe(0);
  });
});
