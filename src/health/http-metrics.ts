import type { Transport } from '../transport/types.js';

/** GET a path over a port forwarded through the host's SSH connection (the exporter as the host sees it). */
export async function httpGetViaHost(t: Transport, address: string, port: number, path: string, timeoutMs = 5000): Promise<{ status: number; body: string }> {
  const stream = await t.forward(address, port);
  return new Promise((resolve, reject) => {
    let data = '';
    const timer = setTimeout(() => {
      stream.destroy();
      reject(new Error(`no answer from http://${address}:${port}${path} within ${timeoutMs} ms`));
    }, timeoutMs);
    stream.on('data', (d: Buffer) => (data += d.toString('utf8')));
    stream.on('error', (e: Error) => {
      clearTimeout(timer);
      reject(e);
    });
    stream.on('close', () => {
      clearTimeout(timer);
      const [head = '', ...rest] = data.split('\r\n\r\n');
      const status = Number(head.split(' ')[1] ?? 0);
      if (!status) return reject(new Error(`connection to ${address}:${port} closed without an HTTP answer`));
      resolve({ status, body: rest.join('\r\n\r\n') });
    });
    stream.end(`GET ${path} HTTP/1.0\r\nHost: ${address}:${port}\r\nConnection: close\r\n\r\n`);
  });
}

/** A sample's value in Prometheus text format (`name 12` or `name{label="x"} 12`); undefined when absent. */
export function metricValue(body: string, name: string): number | undefined {
  const m = new RegExp(`^${name}(?:\\{[^}]*\\})?\\s+(\\S+)`, 'm').exec(body);
  if (!m) return undefined;
  const n = Number(m[1]);
  return Number.isFinite(n) ? n : undefined;
}

/** The exporter's broker_uptime now (throws when it does not answer or has none yet). */
export async function scrapeBrokerUptime(t: Transport, address: string, port: number): Promise<number> {
  const r = await httpGetViaHost(t, address, port, '/metrics');
  if (r.status !== 200) throw new Error(`exporter answered HTTP ${r.status}`);
  const uptime = metricValue(r.body, 'broker_uptime');
  if (uptime === undefined) throw new Error('exporter /metrics has no broker_uptime yet (is it logged in to the broker?)');
  return uptime;
}

/**
 * The exporter's metrics are current: broker_uptime increases between two scrapes. An exporter that lost its broker
 * connection keeps serving the last values it received, so "broker_uptime present" proves nothing. The broker
 * publishes $SYS every sys_interval seconds: `withinMs` should cover one interval and some.
 */
export async function exporterMetricsCurrent(scrape: () => Promise<number>, o: { withinMs: number; everyMs?: number; sleep?: (ms: number) => Promise<void> }): Promise<string> {
  const pause = o.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const every = o.everyMs ?? 1000;
  const first = await scrape();
  for (let waited = 0; waited < o.withinMs; ) {
    await pause(every);
    waited += every;
    const now = await scrape();
    if (now > first) return `broker_uptime ${first} → ${now} s`;
  }
  throw new Error(`stale metrics: broker_uptime stayed at ${first} s for ${Math.round(o.withinMs / 1000)} s (is the exporter still connected to the broker?)`);
}

/** The exporter answers with broker_uptime (it logged in to the broker): the exporter role's check after a start. */
export async function exporterShowsUptime(t: Transport, address: string, port: number): Promise<void> {
  await scrapeBrokerUptime(t, address, port);
}
