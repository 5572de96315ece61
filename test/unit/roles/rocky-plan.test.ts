import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { Step, StepPlan } from '../../../src/engine/types.js';
import { parseHostFacts } from '../../../src/facts/gather-host-facts.js';
import { file } from '../../../src/operations/file.js';
import { firewall } from '../../../src/operations/firewall/index.js';
import { packages, systemUpgraded } from '../../../src/operations/package.js';
import { selinuxPort } from '../../../src/operations/selinux.js';
import { service } from '../../../src/operations/service.js';
import { planWithRecordedFacts } from '../../support/recorded-facts.js';

const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '../../fixtures/facts');
const fixture = (name: string) => readFileSync(join(FIXTURES, name), 'utf8');
const rocky = parseHostFacts('mq3', fixture('rocky9/host-facts.txt'));

function planFrom(step: Step, name: string | Record<string, string>, code = 0): Promise<StepPlan> {
  // One recorded batch output answers every fact of the step (a package step's packages and the lists' age).
  const stdout = typeof name === 'string' ? fixture(name) : '';
  return planWithRecordedFacts(step, rocky, Object.fromEntries((step.facts ?? []).map((q) => [q.key, { stdout, code }])));
}
function scripts(p: StepPlan): string[] {
  if (!('changes' in p)) throw new Error(`skipped: ${p.skip}`);
  return p.changes.flatMap((c) => (c.actions ?? []).map((a) => ('script' in a ? a.script : a.command)));
}

describe('recorded Rocky 9 host', () => {
  it('parses as dnf + firewalld + SELinux enforcing', () => {
    expect(rocky).toMatchObject({
      os: { id: 'rocky', major: 9, family: 'redhat' },
      packageManager: 'dnf',
      firewall: { firewalld: true, firewalldRunning: true },
      selinux: 'enforcing',
      primaryAddress: '10.77.1.12',
    });
  });
});

describe('packages with dnf', () => {
  it('installs EPEL then mosquitto; dnf fetches metadata itself but a missing cache is refreshed first', async () => {
    expect(scripts(await planFrom(packages({ name: 'EPEL repository', names: ['epel-release'] }), 'rocky9/packages-fresh.txt'))).toEqual([
      'dnf -q -y makecache --refresh',
      'dnf -q -y install epel-release',
    ]);
    expect(scripts(await planFrom(packages({ names: ['mosquitto'], versions: { mosquitto: '2.0.20' } }), 'rocky9/packages-fresh.txt'))).toEqual([
      'dnf -q -y makecache --refresh',
      'dnf -q -y install mosquitto-2.0.20',
    ]);
  });

  it('is ok when installed, pins matching version-release or version', async () => {
    expect(await planFrom(packages({ names: ['epel-release', 'mosquitto'] }), 'rocky9/packages-installed.txt')).toEqual({ changes: [] });
    expect(await planFrom(packages({ names: ['epel-release', 'mosquitto'], versions: { mosquitto: '2.0.20' } }), 'rocky9/packages-installed.txt')).toEqual({ changes: [] });
    expect(await planFrom(packages({ names: ['epel-release', 'mosquitto'], versions: { mosquitto: '2.0.20-1.el9' } }), 'rocky9/packages-installed.txt')).toEqual({ changes: [] });
    expect(scripts(await planFrom(packages({ names: ['epel-release', 'mosquitto'], versions: { mosquitto: '2.0.18' } }), 'rocky9/packages-installed.txt'))).toEqual([
      'dnf -q -y install mosquitto-2.0.18',
    ]);
  });

  it('latest upgrades what check-update lists, with the dnf verb', async () => {
    const step = packages({ names: ['mosquitto', 'openssl'], state: 'latest' });
    expect(step.facts![0]!.script).toContain('dnf -q -C check-update -- $inst');
    expect(scripts(await planFrom(step, 'rocky9/packages-latest.txt'))).toEqual(['dnf -q -y upgrade mosquitto']);
  });

  it('removes with dnf remove', async () => {
    expect(scripts(await planFrom(packages({ names: ['mosquitto'], state: 'absent' }), 'rocky9/packages-installed.txt'))).toEqual(['dnf -q -y remove mosquitto']);
  });

  it('full upgrade when dnf cannot tell (no metadata cache)', async () => {
    const stdout = '@@now\n1795307036\n@@pm\ndnf\n@@lists\n@@updates\n@@updates-rc\n1\n';
    const step = systemUpgraded();
    expect(scripts(await planWithRecordedFacts(step, rocky, { [step.facts![0]!.key]: { stdout } }))).toEqual(['dnf -q -y upgrade']);
  });
});

describe('firewalld', () => {
  const allow = [
    { port: 8883, proto: 'tcp' as const, sources: [], comment: 'MQTT over TLS' },
    { port: 9234, proto: 'tcp' as const, sources: ['10.0.0.0/8'], comment: 'Prometheus exporter' },
    { port: 1885, proto: 'tcp' as const, sources: ['10.77.1.20/32'], comment: 'MQTT from load balancers' },
  ];

  it('on a fresh public zone: SSH and ports, rich rules for sources, distro services out, target DROP, reload', async () => {
    const p = await planFrom(firewall({ backend: 'firewalld', allow, sshPort: 22, defaultInbound: 'drop' }), 'rocky9/firewalld-fresh.txt');
    expect(scripts(p)).toEqual([
      [
        'set -e',
        'firewall-cmd --permanent --zone=public --add-port=22/tcp >/dev/null',
        'firewall-cmd --permanent --zone=public --add-port=8883/tcp >/dev/null',
        `firewall-cmd --permanent --zone=public --add-rich-rule='rule family="ipv4" source address="10.0.0.0/8" port port="9234" protocol="tcp" accept' >/dev/null`,
        `firewall-cmd --permanent --zone=public --add-rich-rule='rule family="ipv4" source address="10.77.1.20" port port="1885" protocol="tcp" accept' >/dev/null`,
        'firewall-cmd --permanent --zone=public --remove-service=cockpit >/dev/null',
        'firewall-cmd --permanent --zone=public --remove-service=ssh >/dev/null',
        'firewall-cmd --permanent --zone=public --set-target=DROP >/dev/null',
      ].join('\n'),
      'firewall-cmd --reload >/dev/null',
    ]);
  });

  it('keeps the SSH port of this run open even when allow is empty', async () => {
    const step = firewall({ backend: 'firewalld', allow: [], sshPort: 2222, defaultInbound: 'drop' });
    const all = scripts(await planFrom(step, 'rocky9/firewalld-fresh.txt')).join('\n');
    expect(all).toContain('--add-port=2222/tcp');
    expect(all).toContain('--add-port=22/tcp'); // the recorded transport connects on 22
  });

  it('is ok once provisioned', async () => {
    expect(await planFrom(firewall({ backend: 'firewalld', allow: allow.slice(0, 2).concat([{ ...allow[2]!, sources: ['10.77.1.20'] }]), sshPort: 22, defaultInbound: 'drop' }), 'rocky9/firewalld-provisioned.txt')).toEqual({
      changes: [],
    });
  });

  it('removes ports and rich rules no longer wanted', async () => {
    const p = await planFrom(firewall({ backend: 'firewalld', allow: [allow[0]!], sshPort: 22, defaultInbound: 'drop' }), 'rocky9/firewalld-provisioned.txt');
    expect(scripts(p)).toEqual([
      [
        'set -e',
        `firewall-cmd --permanent --zone=public --remove-rich-rule='rule family="ipv4" source address="10.77.1.20" port port="1885" protocol="tcp" accept' >/dev/null`,
        `firewall-cmd --permanent --zone=public --remove-rich-rule='rule family="ipv4" source address="10.0.0.0/8" port port="9234" protocol="tcp" accept' >/dev/null`,
      ].join('\n'),
      'firewall-cmd --reload >/dev/null',
    ]);
  });

  it('when firewalld is not running: offline commands, then enable and start it', async () => {
    const offline = fixture('rocky9/firewalld-fresh.txt').replace('@@state\nrunning', '@@state\noffline').replace(/@@runtime-[\s\S]*?(?=@@enabled)/, '');
    const step = firewall({ backend: 'firewalld', allow: [allow[0]!], sshPort: 22, defaultInbound: 'drop' });
    const p = await planWithRecordedFacts(step, rocky, { [step.facts![0]!.key]: { stdout: offline } });
    expect(scripts(p)).toEqual([
      [
        'set -e',
        'firewall-offline-cmd --zone=public --add-port=22/tcp >/dev/null',
        'firewall-offline-cmd --zone=public --add-port=8883/tcp >/dev/null',
        'firewall-offline-cmd --zone=public --remove-service-from-zone=cockpit >/dev/null',
        'firewall-offline-cmd --zone=public --remove-service-from-zone=ssh >/dev/null',
        'firewall-offline-cmd --zone=public --set-target=DROP >/dev/null',
      ].join('\n'),
      'systemctl enable --now firewalld',
    ]);
  });
});

describe('SELinux ports', () => {
  it('adds a label for an unlabelled port, modifies one labelled otherwise, no-op when right', async () => {
    expect(scripts(await planFrom(selinuxPort({ port: 1885, type: 'http_port_t' }), 'rocky9/semanage-ports.txt'))).toEqual(['semanage port -a -t http_port_t -p tcp 1885']);
    expect(scripts(await planFrom(selinuxPort({ port: 9090, type: 'http_port_t' }), 'rocky9/semanage-ports.txt'))).toEqual(['semanage port -m -t http_port_t -p tcp 9090']);
    expect(await planFrom(selinuxPort({ port: 8443, type: 'http_port_t' }), 'rocky9/semanage-ports.txt')).toEqual({ changes: [] });
    // Ranges count for the type they belong to: 30000/udp is already unreserved_port_t.
    expect(await planFrom(selinuxPort({ port: 30000, proto: 'udp', type: 'unreserved_port_t' }), 'rocky9/semanage-ports.txt')).toEqual({ changes: [] });
  });

  it('is skipped when SELinux is disabled', async () => {
    const disabled = { ...rocky, selinux: 'disabled' as const };
    const step = selinuxPort({ port: 1885, type: 'http_port_t' });
    expect(await planWithRecordedFacts(step, disabled, { 'selinux-ports': { stdout: fixture('rocky9/selinux-disabled.txt') } })).toEqual({ skip: 'SELinux is not enabled on this host' });
  });
});

describe('services and files on Rocky', () => {
  it('enables and starts mosquitto, leaves running firewalld alone', async () => {
    expect(scripts(await planFrom(service({ name: 'mosquitto', enabled: true, state: 'started' }), 'rocky9/service-mosquitto-disabled.txt'))).toEqual([
      'systemctl enable mosquitto.service',
      'systemctl start mosquitto.service',
    ]);
    expect(await planFrom(service({ name: 'firewalld', enabled: true, state: 'started' }), 'rocky9/service-firewalld-running.txt')).toEqual({ changes: [] });
  });

  it('restores SELinux labels after replacing a file', async () => {
    const [script] = scripts(await planFrom(file({ path: '/etc/mosquitto/mosquitto.conf', content: 'listener 8883\n', owner: 'root', group: 'mosquitto', mode: '0640' }), { absent: '' }));
    expect(script).toContain('if command -v restorecon >/dev/null 2>&1; then restorecon -- /etc/mosquitto/mosquitto.conf || true; fi');
  });
});
