import type { FactQuery } from '../engine/types.js';
import { BROKER_PATHS } from './broker.js';

/**
 * Has the running broker not loaded its configuration (`config`: restart) or its server certificate and key
 * (`certs`: reload) yet? An interrupted rollout leaves that. The certificate counts as loaded after a start or
 * after a reload that proved it (BROKER_PATHS.certsLoadedMarker). ca.crt is left out: mosquitto 2.0.11 does
 * not reload a listener's cafile and need not (no listener asks for client certificates); bridges read it at
 * each (re)connect (docs/ha.md). File times have one-second resolution: a start in the same second as the
 * write came after it (handlers run after the files are written).
 */
export const brokerLoaded: FactQuery<'' | 'config' | 'certs'> = {
  key: 'mosquitto:stale',
  script: `started=$(systemctl show mosquitto -p ActiveEnterTimestamp --value 2>/dev/null); [ -n "$started" ] || exit 0
s=$(date -d "$started" +%s 2>/dev/null) || exit 0
conf=$(stat -c %Y ${BROKER_PATHS.conf} 2>/dev/null || echo 0)
[ "$conf" -gt "$s" ] && { echo config; exit 0; }
loaded=$(stat -c %Y ${BROKER_PATHS.certsLoadedMarker} 2>/dev/null || echo 0); [ "$loaded" -gt "$s" ] && s=$loaded
newest=$(stat -c %Y ${BROKER_PATHS.certDir}/server.crt ${BROKER_PATHS.certDir}/server.key 2>/dev/null | sort -n | tail -n 1)
[ -n "$newest" ] && [ "$newest" -gt "$s" ] && echo certs || true`,
  parse: (out) => (out.trim() === 'config' ? 'config' : out.trim() === 'certs' ? 'certs' : ''),
};
