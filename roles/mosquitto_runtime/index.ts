import { z } from 'zod';
import { defineRole, type FactQuery, type Step } from '../../src/engine/types.js';
import { service } from '../../src/operations/service.js';
import { BROKER_PATHS } from '../../src/cluster/broker.js';
import { brokerVars, tlsVars } from '../../src/cluster/variables.js';

/**
 * Has the running broker not loaded its configuration (restart) or its certificates (reload) yet? An interrupted
 * rollout leaves that. Certificates count as loaded after a start or after a reload that proved it (the marker).
 */
const staleBroker: FactQuery<'' | 'config' | 'certs'> = {
  key: 'mosquitto:stale',
  script: `started=$(systemctl show mosquitto -p ActiveEnterTimestamp --value 2>/dev/null); [ -n "$started" ] || exit 0
s=$(date -d "$started" +%s 2>/dev/null) || exit 0
conf=$(stat -c %Y ${BROKER_PATHS.conf} 2>/dev/null || echo 0)
[ "$conf" -gt "$s" ] && { echo config; exit 0; }
loaded=$(stat -c %Y ${BROKER_PATHS.certsLoadedMarker} 2>/dev/null || echo 0); [ "$loaded" -gt "$s" ] && s=$loaded
newest=$(stat -c %Y ${BROKER_PATHS.certDir}/*.crt ${BROKER_PATHS.certDir}/*.key 2>/dev/null | sort -n | tail -n 1)
[ -n "$newest" ] && [ "$newest" -gt "$s" ] && echo certs || true`,
  parse: (out) => (out.trim() === 'config' ? 'config' : out.trim() === 'certs' ? 'certs' : ''),
};

export default defineRole({
  name: 'mosquitto_runtime',
  description: 'mosquitto enabled and running; restarted (with health check and rollback) only when its configuration changed since it started.',
  vars: z.object({ ...brokerVars, ...tlsVars }),
  phases: {
    runtime: (ctx) => {
      // Through the rolling handler: brokers still restart one at a time, health-checked, with rollback.
      const pending: Step = {
        name: 'apply a configuration the running broker has not loaded yet',
        facts: ctx.facts.init === 'systemd' ? [staleBroker] : [],
        notify: ['restart mosquitto'],
        plan: (c, facts) =>
          c.facts.init === 'systemd' && facts.get(staleBroker) === 'config' ? { changes: [{ summary: 'configuration newer than the running broker: restart (rolling)' }] } : { changes: [] },
      };
      const pendingCerts: Step = {
        name: 'load certificates the running broker has not loaded yet',
        facts: ctx.facts.init === 'systemd' ? [staleBroker] : [],
        notify: ['reload mosquitto'],
        plan: (c, facts) =>
          c.facts.init === 'systemd' && facts.get(staleBroker) === 'certs' ? { changes: [{ summary: 'certificates newer than the running broker: reload (rolling)' }] } : { changes: [] },
      };
      return [service({ name: 'mosquitto', enabled: true, state: 'started' }), pending, pendingCerts];
    },
  },
});
