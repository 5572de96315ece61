import { z } from 'zod';
import { defineRole } from '../../src/engine/types.js';
import { service } from '../../src/operations/service.js';

/**
 * Takes brokers marked `state: absent` out of service. It runs in the cluster play, after the load
 * balancers were regenerated without them, so clients are drained before the broker stops.
 */
export default defineRole({
  name: 'decommission',
  description: 'Stops and disables mosquitto and the exporter on brokers marked state: absent, after the load balancers dropped them.',
  vars: z.object({}),
  phases: {},
  absent: {
    cluster: () => [
      service({ name: 'mosquitto-exporter', enabled: false, state: 'stopped' }),
      service({ name: 'mosquitto', enabled: false, state: 'stopped' }),
    ],
  },
});
