import { z } from 'zod';
import { defineRole, type Step } from '../../src/engine/types.js';
import { service } from '../../src/operations/service.js';
import { brokerLoaded } from '../../src/cluster/broker-loaded.js';
import { brokerVars, tlsVars } from '../../src/cluster/variables.js';

export default defineRole({
  name: 'mosquitto_runtime',
  description: 'mosquitto enabled and running; restarted (with health check and rollback) only when its configuration changed since it started.',
  vars: z.object({ ...brokerVars, ...tlsVars }),
  phases: {
    runtime: (ctx) => {
      // Through the rolling handler: brokers still restart one at a time, health-checked, with rollback.
      const pending: Step = {
        name: 'apply a configuration the running broker has not loaded yet',
        facts: ctx.facts.init === 'systemd' ? [brokerLoaded] : [],
        notify: ['restart mosquitto'],
        plan: (c, facts) =>
          c.facts.init === 'systemd' && facts.get(brokerLoaded) === 'config' ? { changes: [{ summary: 'configuration newer than the running broker: restart (rolling)' }] } : { changes: [] },
      };
      const pendingCerts: Step = {
        name: 'load certificates the running broker has not loaded yet',
        facts: ctx.facts.init === 'systemd' ? [brokerLoaded] : [],
        notify: ['reload mosquitto'],
        plan: (c, facts) =>
          c.facts.init === 'systemd' && facts.get(brokerLoaded) === 'certs' ? { changes: [{ summary: 'certificates newer than the running broker: reload (rolling)' }] } : { changes: [] },
      };
      return [service({ name: 'mosquitto', enabled: true, state: 'started' }), pending, pendingCerts];
    },
  },
});
