import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UnreachableError } from '../../../src/errors.js';
import type { ConnectionSpec } from '../../../src/inventory/connection.js';
import { SSH_HANDSHAKES, SshTransport } from '../../../src/transport/ssh.js';
import { Semaphore } from '../../../src/util/semaphore.js';
import { startFaultServer, type FaultServer } from '../../support/fault-servers.js';

// Handshakes are bounded across hosts, separately from --forks: a storm of 100 at once slows every one of them and,
// through a jump host, trips sshd's MaxStartups. A silent port (a tarpit) holds each handshake until its timeout,
// so the server sees exactly how many the controller runs at once; the server drops what it holds every 50 ms, so
// the next hosts get their turn.
const spec = (port: number, host: string): ConnectionSpec => ({ host, address: '127.0.0.1', port, user: 'root', become: false, becomeUser: 'root', connectTimeoutMs: 400 });

describe('SSH handshakes in flight at once', () => {
  let tarpit: FaultServer;
  beforeAll(async () => {
    tarpit = await startFaultServer('silent');
  });
  afterAll(() => tarpit.close());

  it('never exceed the run-wide bound; waiting for a slot does not eat into a host\'s timeout', async () => {
    const handshakes = new Semaphore(2);
    const hosts = Array.from({ length: 6 }, (_, i) => `h${i + 1}`);
    const drops = setInterval(() => tarpit.dropAll(), 50);
    const results = await Promise.all(hosts.map((h) => SshTransport.connect(spec(tarpit.port, h), { connectAttempts: 1, handshakes }).catch((e: unknown) => e))).finally(() => clearInterval(drops));
    // Every host was tried, never more than 2 at once, and each ended on the server's drop (its own handshake),
    // none on a timeout spent in the queue.
    expect(tarpit.accepted).toBe(6);
    expect(tarpit.maxOpen).toBe(2);
    for (const r of results) {
      expect(r).toBeInstanceOf(UnreachableError);
      expect(String((r as Error).message)).toMatch(/closed|reset|lost/i);
    }
  });

  it('defaults to a bound shared by every transport of the process', () => {
    expect(SSH_HANDSHAKES).toBeInstanceOf(Semaphore);
  });
});
