import { spawn } from 'node:child_process';

/** CBC suites (TLS 1.2) for ECDSA and RSA keys: an offer of only these must be refused by our servers. */
export const CBC_ONLY_OFFER = [
  'ECDHE-ECDSA-AES128-SHA',
  'ECDHE-ECDSA-AES256-SHA',
  'ECDHE-ECDSA-AES128-SHA256',
  'ECDHE-ECDSA-AES256-SHA384',
  'ECDHE-RSA-AES128-SHA',
  'ECDHE-RSA-AES256-SHA',
  'ECDHE-RSA-AES128-SHA256',
  'ECDHE-RSA-AES256-SHA384',
  'AES128-SHA',
  'AES256-SHA',
].join(':');

export interface TlsProbe {
  /** The handshake completed. */
  ok: boolean;
  protocol?: string;
  cipher?: string;
  output: string;
}

/**
 * One handshake with the real OpenSSL client (`openssl s_client -brief`), offering one protocol version and
 * optionally only the given TLS 1.2 ciphers. TLS 1.0/1.1 offers run at @SECLEVEL=0 so that a refusal is the
 * server's, not this client's own policy.
 */
export function tlsProbe(host: string, port: number, o: { version: '1' | '1_1' | '1_2' | '1_3'; ciphers?: string; servername?: string }): Promise<TlsProbe> {
  const args = ['s_client', '-connect', `${host}:${port}`, '-brief', `-tls${o.version}`];
  if (o.servername) args.push('-servername', o.servername);
  const old = o.version === '1' || o.version === '1_1';
  if (o.ciphers || old) args.push('-cipher', `${o.ciphers ?? 'DEFAULT'}${old ? ':@SECLEVEL=0' : ''}`);
  return new Promise((resolve, reject) => {
    const p = spawn('openssl', args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let output = '';
    p.stdout.on('data', (d: Buffer) => (output += d.toString()));
    p.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const timer = setTimeout(() => p.kill('SIGKILL'), 15_000);
    p.on('error', reject);
    p.on('close', (code) => {
      clearTimeout(timer);
      const protocol = /^Protocol version: (\S+)/m.exec(output)?.[1];
      const cipher = /^Ciphersuite: (\S+)/m.exec(output)?.[1];
      resolve({ ok: code === 0 && output.includes('CONNECTION ESTABLISHED'), ...(protocol ? { protocol } : {}), ...(cipher ? { cipher } : {}), output: `openssl ${args.join(' ')}\n${output}` });
    });
    p.stdin.end();
  });
}
