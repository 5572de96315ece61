import { mkdtemp, rm } from 'node:fs/promises';
import { connect as netConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, type Server } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FactResults, HostContext, Step } from '../../../src/engine/types.js';
import { brokerLoaded } from '../../../src/cluster/broker-loaded.js';
import { fingerprintOf } from '../../../src/health/served-certificate.js';
import { ensureServerCert, type CertMaterial } from '../../../src/pki/index.js';
import { reloadCertificates } from '../../../roles/mosquitto_config/reload.js';

// The reload handler against a real TLS server standing in for the broker's listener: "systemctl reload" swaps
// the server's certificate (as SIGHUP does in mosquitto) or, to play a failed reload, leaves it.
let dir: string;
let oldCert: CertMaterial;
let newCert: CertMaterial;
let server: Server;
let port: number;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cert-reload-'));
  const req = { dir, check: false, host: 'mq1', ipAddresses: ['127.0.0.1'] };
  oldCert = await ensureServerCert({ ...req, dnsNames: [] });
  newCert = await ensureServerCert({ ...req, dnsNames: ['renewed.example'] });
  server = createServer({ cert: oldCert.cert, key: oldCert.key }, (s) => s.end());
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as { port: number }).port;
});
afterAll(async () => {
  server.close();
  await rm(dir, { recursive: true, force: true });
});

function context(reloadTakes: boolean) {
  const scripts: string[] = [];
  const transport = {
    host: 'mq1',
    sshPort: 22,
    roundTrips: 0,
    exec: async () => ({ stdout: '', stderr: '', code: 0 }),
    script: async (s: string) => {
      scripts.push(s);
      if (s === 'systemctl reload mosquitto' && reloadTakes) server.setSecureContext({ cert: newCert.cert, key: newCert.key });
      return { stdout: '', stderr: '', code: 0 };
    },
    forward: async (_h: string, p: number) => netConnect({ host: '127.0.0.1', port: p }),
    close: async () => undefined,
  };
  const ctx = { name: 'mq1', facts: { init: 'systemd' }, transport } as unknown as HostContext;
  return { ctx, scripts };
}

const facts = (v: '' | 'certs' | 'config'): FactResults => ({ get: <T>(q: { key: string }) => (q.key === brokerLoaded.key ? v : undefined) as T });

function restartStub(log: string[]): Step {
  return { name: 'restart', plan: () => ({ changes: [{ summary: 'restart', apply: async () => void log.push('restarted') }] }) };
}

describe('reload mosquitto (certificate change)', () => {
  it('does nothing when the running broker started or reloaded after the certificate was written', async () => {
    server.setSecureContext({ cert: oldCert.cert, key: oldCert.key });
    const { ctx } = context(true);
    const step = reloadCertificates({ tlsPort: port, cert: async () => newCert.cert, restart: restartStub([]) });
    expect(step.facts).toEqual([brokerLoaded]);
    expect(await step.plan(ctx, facts(''))).toEqual({ changes: [], message: 'the running broker loaded this certificate already' });
  });

  it('reloads, proves the new certificate on a fresh handshake, and marks it loaded; no restart', async () => {
    server.setSecureContext({ cert: oldCert.cert, key: oldCert.key });
    const { ctx, scripts } = context(true);
    const restarts: string[] = [];
    const plan = await reloadCertificates({ tlsPort: port, cert: async () => newCert.cert, restart: restartStub(restarts) }).plan(ctx, facts('certs'));
    if (!('changes' in plan)) throw new Error('expected changes');
    expect(plan.changes.map((c) => c.summary)).toEqual(['reload mosquitto (SIGHUP): new TLS handshakes get the new certificate, connected clients stay']);
    expect(await plan.changes[0]!.apply!(ctx)).toBe('serving the new certificate; established connections kept');
    expect(scripts).toEqual(['systemctl reload mosquitto', 'touch /run/provision-mosquitto-certs-loaded']);
    expect(restarts).toEqual([]);
  });

  it('restarts when the broker still presents the old certificate after the reload, and does not mark it loaded', async () => {
    server.setSecureContext({ cert: oldCert.cert, key: oldCert.key });
    const { ctx, scripts } = context(false);
    const restarts: string[] = [];
    const plan = await reloadCertificates({ tlsPort: port, cert: async () => newCert.cert, restart: restartStub(restarts), proofTimeoutMs: 600 }).plan(ctx, facts('certs'));
    if (!('changes' in plan)) throw new Error('expected changes');
    const msg = await plan.changes[0]!.apply!(ctx);
    expect(msg).toContain(`still presents certificate ${fingerprintOf(oldCert.cert).slice(0, 23)}`);
    expect(msg).toContain('restarted instead');
    expect(restarts).toEqual(['restarted']);
    expect(scripts).toEqual(['systemctl reload mosquitto']);
  });
});

describe('mosquitto_runtime: what the running broker has not loaded yet', () => {
  it('a newer mosquitto.conf restarts, a newer certificate only reloads, nothing newer does nothing', async () => {
    const { default: runtime } = await import('../../../roles/mosquitto_runtime/index.js');
    const ctx = { name: 'mq1', facts: { init: 'systemd' }, vars: {} } as never;
    const steps = (await runtime.phases.runtime!(ctx)).slice(1);
    expect(steps.map((s) => [s.name, s.notify])).toEqual([
      ['apply a configuration the running broker has not loaded yet', ['restart mosquitto']],
      ['load certificates the running broker has not loaded yet', ['reload mosquitto']],
    ]);
    const changed = async (v: '' | 'config' | 'certs') => Promise.all(steps.map(async (s) => ((await s.plan(ctx, facts(v))) as { changes: unknown[] }).changes.length));
    expect(await changed('config')).toEqual([1, 0]);
    expect(await changed('certs')).toEqual([0, 1]);
    expect(await changed('')).toEqual([0, 0]);
    expect(brokerLoaded.parse('certs\n', 0)).toBe('certs');
    expect(brokerLoaded.parse('config\n', 0)).toBe('config');
    expect(brokerLoaded.parse('', 0)).toBe('');
    // ca.crt is not part of "loaded": mosquitto 2.0.11 does not reload a listener's cafile, bridges read it per connect.
    expect(brokerLoaded.script).toContain('/etc/mosquitto/certs/server.crt /etc/mosquitto/certs/server.key');
    expect(brokerLoaded.script).not.toContain('ca.crt');
  });
});
