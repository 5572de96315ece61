import type { Transport } from '../transport/types.js';

export const ADMIN_SOCKET = '/run/haproxy/admin.sock';

/** Server name → status ("UP", "DOWN", "MAINT", "UP 1/2" …) of one backend, from HAProxy's admin socket. Empty when HAProxy is not there. */
export async function backendServerStatus(t: Transport, backend: string): Promise<Map<string, string>> {
  const r = await t.script(`[ -S ${ADMIN_SOCKET} ] && command -v socat >/dev/null && echo "show stat" | socat stdio ${ADMIN_SOCKET} || true`);
  const out = new Map<string, string>();
  for (const line of r.stdout.split('\n')) {
    const f = line.split(',');
    if (f[0] !== backend || f[1] === 'BACKEND' || f[1] === 'FRONTEND' || !f[1]) continue;
    out.set(f[1], f[17] ?? '');
  }
  return out;
}
