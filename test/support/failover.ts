import { isIP } from 'node:net';
import { connect, type MqttClient } from 'mqtt';

export interface FailoverResult {
  /** Time from the fault until the subscriber received again (ms). */
  recoveryMs: number;
  /** Longest silence seen by the subscriber around the fault (ms). */
  gapMs: number;
  sent: number;
  received: number;
  lost: number;
  /** Messages published between the last in-order delivery before the fault and the first delivery after it. */
  publishedInGap: number;
}

export interface FailoverOptions {
  host: string;
  port: number;
  ca: Buffer;
  servername: string;
  username: string;
  password: string;
  topic: string;
  ratePerSecond: number;
  /** Publishing before the fault, and after it. */
  beforeMs: number;
  afterMs: number;
  fault: () => Promise<void>;
}

const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

function client(o: FailoverOptions, id: string): MqttClient {
  return connect({ host: o.host, port: o.port, protocol: 'mqtts', ca: o.ca, ...(isIP(o.servername) ? {} : { servername: o.servername }), username: o.username, password: o.password, clientId: id, reconnectPeriod: 200, connectTimeout: 3000, keepalive: 10, clean: true });
}

/** A QoS 1 publisher at a steady rate and a subscriber, both through the load balancer; a fault in the middle. */
export async function measureFailover(o: FailoverOptions): Promise<FailoverResult> {
  const sub = client(o, `fo-sub-${process.pid}`);
  const pub = client(o, `fo-pub-${process.pid}`);
  const received = new Map<number, number>();
  const sentAt = new Map<number, number>();
  sub.on('message', (_t, payload) => received.set(Number(payload.toString()), Date.now()));
  await new Promise<void>((resolve, reject) => {
    sub.once('error', reject);
    sub.on('connect', () => sub.subscribe(o.topic, { qos: 1 }, (err) => (err ? reject(err) : resolve())));
  });
  await new Promise<void>((resolve) => (pub.connected ? resolve() : pub.once('connect', () => resolve())));
  let n = 0;
  const timer = setInterval(() => {
    n++;
    sentAt.set(n, Date.now());
    pub.publish(o.topic, String(n), { qos: 1 });
  }, 1000 / o.ratePerSecond);
  await wait(o.beforeMs);
  const faultAt = Date.now();
  await o.fault();
  await wait(o.afterMs);
  clearInterval(timer);
  await wait(3000);
  sub.end(true);
  pub.end(true);
  const times = [...received.values()].sort((a, b) => a - b);
  const firstAfter = times.find((t) => t > faultAt + 50) ?? Number.NaN;
  let gapMs = 0;
  for (let i = 1; i < times.length; i++) gapMs = Math.max(gapMs, times[i]! - times[i - 1]!);
  // The window of uncertain fate: from the last message delivered in order before the fault until the
  // first delivery after it. Messages published then may be lost in active-passive (no session sync).
  let contiguous = 0;
  while (received.has(contiguous + 1) && received.get(contiguous + 1)! <= faultAt) contiguous++;
  const gapEnd = Number.isNaN(firstAfter) ? Date.now() : firstAfter;
  const publishedInGap = [...sentAt].filter(([id, t]) => id > contiguous && t < gapEnd).length;
  return { recoveryMs: firstAfter - faultAt, gapMs, sent: n, received: received.size, lost: n - [...received.keys()].filter((k) => k <= n).length, publishedInGap };
}
