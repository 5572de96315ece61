// Checks of provisioned brokers made from the controller, the way a client or Prometheus sees them:
// TLS MQTT logins and publish/subscribe with the `mqtt` package, TCP probes, the exporter's /metrics.
import { createPrivateKey } from 'node:crypto';
import { request } from 'node:http';
import { connect as netConnect } from 'node:net';
import { connect as mqttConnect, type IClientOptions, type MqttClient } from 'mqtt';

export interface TlsTarget {
  /** IP address the connection goes to. */
  address: string;
  /** Name the certificate must verify for (SNI and hostname check). */
  servername: string;
  port?: number;
  /** PEM of the CA that must have signed the broker certificate. */
  ca: Buffer | string;
}

export interface Login {
  username?: string;
  password?: string;
}

/** Result of a login attempt: connected, or refused with the CONNACK code / error text. */
export type LoginResult = { ok: true } | { ok: false; code?: number; message: string };

function options(t: TlsTarget, l: Login, timeoutMs: number): IClientOptions {
  return {
    host: t.address,
    port: t.port ?? 8883,
    protocol: 'mqtts',
    protocolVersion: 4,
    ca: t.ca,
    servername: t.servername,
    rejectUnauthorized: true,
    clientId: `e2e-${Math.random().toString(16).slice(2, 10)}`,
    connectTimeout: timeoutMs,
    reconnectPeriod: 0,
    clean: true,
    ...(l.username !== undefined ? { username: l.username } : {}),
    ...(l.password !== undefined ? { password: l.password } : {}),
  };
}

/** Connects over TLS (certificate checked for `servername`); rejects with the CONNACK/TLS error. */
export function connectTls(t: TlsTarget, l: Login, timeoutMs = 10_000): Promise<MqttClient> {
  return new Promise((resolve, reject) => {
    const client = mqttConnect(options(t, l, timeoutMs));
    const timer = setTimeout(() => {
      client.end(true);
      reject(new Error(`no CONNACK from ${t.address}:${t.port ?? 8883} within ${timeoutMs} ms`));
    }, timeoutMs + 1000);
    const fail = (err: Error) => {
      clearTimeout(timer);
      client.end(true);
      reject(err);
    };
    client.once('connect', () => {
      clearTimeout(timer);
      client.removeAllListeners('error');
      client.on('error', () => {});
      resolve(client);
    });
    client.once('error', fail);
    client.once('close', () => fail(new Error(`connection to ${t.address}:${t.port ?? 8883} closed before CONNACK`)));
  });
}

export async function endClient(c: MqttClient): Promise<void> {
  await new Promise<void>((resolve) => c.end(false, {}, () => resolve()));
}

/** Tries a login and reports how it ended (never throws). */
export async function tryLogin(t: TlsTarget, l: Login, timeoutMs = 10_000): Promise<LoginResult> {
  try {
    const c = await connectTls(t, l, timeoutMs);
    await endClient(c);
    return { ok: true };
  } catch (err) {
    const e = err as Error & { code?: unknown };
    return { ok: false, ...(typeof e.code === 'number' ? { code: e.code } : {}), message: e.message };
  }
}

/**
 * Subscribes with one client and publishes `count` QoS 1 messages with another (both TLS, same login);
 * resolves with the payloads the subscriber received, in order, once all arrived.
 */
export async function tlsPublishSubscribe(t: TlsTarget, l: Login, o: { topic: string; count: number; timeoutMs?: number }): Promise<string[]> {
  const timeoutMs = o.timeoutMs ?? 15_000;
  const sub = await connectTls(t, l);
  let pub: MqttClient | undefined;
  try {
    const received: string[] = [];
    const all = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`received ${received.length}/${o.count} messages on ${o.topic} from ${t.servername} within ${timeoutMs} ms`)), timeoutMs);
      sub.on('message', (topic, payload) => {
        if (topic !== o.topic) return;
        received.push(payload.toString());
        if (received.length >= o.count) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
    const granted = await sub.subscribeAsync(o.topic, { qos: 1 });
    if (granted.some((g) => g.qos === 128)) throw new Error(`subscription to ${o.topic} refused by ${t.servername} (SUBACK 0x80)`);
    pub = await connectTls(t, l);
    for (let i = 0; i < o.count; i++) await pub.publishAsync(o.topic, `msg-${i}`, { qos: 1 });
    await all;
    return received;
  } finally {
    await endClient(sub);
    if (pub) await endClient(pub);
  }
}

export type PortState = 'open' | 'refused' | 'timeout' | 'error';

/** A plain TCP connect: does the port answer, refuse (RST) or drop (no answer within `timeoutMs`)? */
export function probeTcp(address: string, port: number, timeoutMs = 2500): Promise<PortState> {
  return new Promise((resolve) => {
    const s = netConnect({ host: address, port });
    const done = (r: PortState) => {
      clearTimeout(timer);
      s.destroy();
      resolve(r);
    };
    const timer = setTimeout(() => done('timeout'), timeoutMs);
    s.once('connect', () => done('open'));
    s.once('error', (e: NodeJS.ErrnoException) => done(e.code === 'ECONNREFUSED' ? 'refused' : e.code === 'ETIMEDOUT' || e.code === 'EHOSTUNREACH' ? 'timeout' : 'error'));
  });
}

/** GET over plain HTTP; the body as text. */
export function httpGet(url: string, timeoutMs = 5000): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'GET', timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer from ${url} within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}

/** Prometheus text format: the value of the first sample of `name` (any labels), or undefined. */
export function metricValue(body: string, name: string): number | undefined {
  const re = new RegExp(`^${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?:\\{[^}]*\\})?\\s+(\\S+)`, 'm');
  const m = re.exec(body);
  return m ? Number(m[1]) : undefined;
}

export async function metrics(address: string, port = 9234): Promise<string> {
  const r = await httpGet(`http://${address}:${port}/metrics`);
  if (r.status !== 200) throw new Error(`http://${address}:${port}/metrics answered HTTP ${r.status}`);
  return r.body;
}

/** Polls `check` until it returns a value other than undefined/false, or throws the last error at the deadline. */
export async function eventually<T>(what: string, check: () => Promise<T | undefined | false>, timeoutMs: number, intervalMs = 500): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined && v !== false) return v;
      last = undefined;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms${last ? ` (last error: ${(last as Error).message})` : ''}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/**
 * Runs `sample` every `intervalMs` until `until` settles (plus once after), collecting every output:
 * e.g. a host's process list while a provisioning run is in progress.
 */
export async function sampleWhile(until: Promise<unknown>, sample: () => Promise<string>, intervalMs = 150): Promise<string[]> {
  let done = false;
  const finished = until.then(
    () => {
      done = true;
    },
    () => {
      done = true;
    },
  );
  const out: string[] = [];
  while (!done) {
    try {
      out.push(await sample());
    } catch {
      // a failed sample (host busy) is just a missed sample
    }
    await Promise.race([finished, new Promise((r) => setTimeout(r, intervalMs))]);
  }
  await finished;
  out.push(await sample().catch(() => ''));
  return out;
}

/**
 * The private numbers (JWK `d`) of every PEM private key in `text` (PKCS#8, SEC1 or PKCS#1; OpenSSH keys are
 * skipped): two keys are the same key exactly when these match, whatever their encoding.
 */
export function privateKeyIds(text: string): string[] {
  const ids: string[] = [];
  for (const m of text.matchAll(/-----BEGIN ((?:EC |RSA )?PRIVATE KEY)-----[\s\S]*?-----END \1-----/g)) {
    try {
      const jwk = createPrivateKey(m[0]).export({ format: 'jwk' });
      if (typeof jwk.d === 'string') ids.push(jwk.d);
    } catch {
      // not a key node can read (encrypted, truncated): not the CA key we compare with
    }
  }
  return ids;
}
