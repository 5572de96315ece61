import { z } from 'zod';
import { defineRole, type FactQuery, type Step } from '../../src/engine/types.js';
import { service } from '../../src/operations/service.js';
import { BROKER_PATHS } from '../../src/cluster/broker.js';
import { brokerVars, tlsVars } from '../../src/cluster/variables.js';

/** Was mosquitto started before its configuration or certificates last changed? (An interrupted rollout leaves that.) */
const staleBroker: FactQuery<boolean> = {
  key: 'mosquitto:stale',
  script: `started=$(systemctl show mosquitto -p ActiveEnterTimestamp --value 2>/dev/null); [ -n "$started" ] || exit 0
s=$(date -d "$started" +%s 2>/dev/null) || exit 0
newest=$(stat -c %Y ${BROKER_PATHS.conf} ${BROKER_PATHS.certDir}/*.crt ${BROKER_PATHS.certDir}/*.key 2>/dev/null | sort -n | tail -n 1)
[ -n "$newest" ] && [ "$newest" -gt "$s" ] && echo stale || true`,
  parse: (out) => out.trim() === 'stale',
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
          c.facts.init === 'systemd' && facts.get(staleBroker) ? { changes: [{ summary: 'configuration newer than the running broker: restart (rolling)' }] } : { changes: [] },
      };
      return [service({ name: 'mosquitto', enabled: true, state: 'started' }), pending];
    },
  },
});
