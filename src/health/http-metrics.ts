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

export async function exporterShowsUptime(t: Transport, address: string, port: number): Promise<void> {
  const r = await httpGetViaHost(t, address, port, '/metrics');
  if (r.status !== 200) throw new Error(`exporter answered HTTP ${r.status}`);
  if (!/^broker_uptime\b/m.test(r.body)) throw new Error('exporter /metrics has no broker_uptime yet (is it logged in to the broker?)');
}
