import type { Transport } from '../transport/types.js';
import { ControlClient } from '../mqtt/control-client.js';
import type { Secret } from '../secrets.js';
import { sleep } from '../util/semaphore.js';

export interface BrokerLogin {
  username: string;
  password: Secret;
}

/**
 * A real TLS MQTT login to the broker's client listener, made from the host itself through the SSH
 * connection (no controller-to-broker route needed): the certificate must verify for `servername`.
 */
export async function tlsLoginCheck(t: Transport, o: { port: number; ca: string; servername: string; login: BrokerLogin; timeoutMs?: number }): Promise<void> {
  const client = await ControlClient.connect({
    stream: () => t.forward('127.0.0.1', o.port),
    ca: Buffer.from(o.ca),
    servername: o.servername,
    username: o.login.username,
    password: o.login.password,
    clientId: `provision-health-${t.host}-${process.pid}`,
    timeoutMs: o.timeoutMs ?? 5000,
  });
  await client.close();
}

/** A plain MQTT login on a listener of the host's loopback (Cedalo's admin listener), through the SSH connection. */
export async function plainLoginCheck(t: Transport, o: { port: number; login: BrokerLogin; timeoutMs?: number }): Promise<void> {
  const client = await ControlClient.connect({
    stream: () => t.forward('127.0.0.1', o.port),
    username: o.login.username,
    password: o.login.password,
    clientId: `provision-health-${t.host}-${process.pid}`,
    timeoutMs: o.timeoutMs ?? 5000,
  });
  await client.close();
}

/**
 * Retry `check` until it passes or `timeoutMs` runs out; the last error is thrown. The first retries come quickly
 * (50 ms, doubling up to `intervalMs`): a service just started is usually ready within a few hundred ms, and a
 * fixed 500 ms poll made every cold run wait most of a poll per restart for nothing.
 */
export async function waitUntil(check: () => Promise<void>, timeoutMs: number, intervalMs = 300): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (let wait = Math.min(50, intervalMs); ; wait = Math.min(wait * 2, intervalMs)) {
    try {
      return await check();
    } catch (err) {
      if (Date.now() + wait > deadline) throw err;
      await sleep(wait);
    }
  }
}
