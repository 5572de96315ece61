import { z } from 'zod';
import { defineRole, type Step } from '../../src/engine/types.js';
import { directory, file } from '../../src/operations/file.js';
import { BROKER_PATHS } from '../../src/cluster/broker.js';
import { certificateFor, pkiDir } from '../../src/cluster/certificate.js';
import { tlsVars } from '../../src/cluster/variables.js';

/** Controller-side CA and per-broker certificates; only the certificate and the broker's own key reach the host. */
export default defineRole({
  name: 'pki',
  description: 'CA kept beside the inventory (never uploaded); a server certificate per broker with SANs, re-issued when SANs change or expiry nears.',
  vars: z.object(tlsVars),
  phases: {
    configure: async (ctx) => {
      const m = await certificateFor(ctx, ctx.vars);
      const controllerStep: Step = {
        name: 'CA and server certificate (controller)',
        plan: () =>
          m.issued || m.caCreated
            ? { changes: [{ summary: `${m.caCreated ? 'create CA, ' : ''}issue certificate for ${ctx.name} (${m.reasons.join('; ') || 'new'}) in ${pkiDir(ctx, ctx.vars)}` }] }
            : { changes: [], message: `valid until ${m.notAfter.toISOString().slice(0, 10)}` },
      };
      const d = BROKER_PATHS.certDir;
      // A reload, not a restart (roles/mosquitto_config/reload.ts): mosquitto reloads certfile/keyfile on SIGHUP
      // and keeps its connections; ca.crt matters only to bridges, which read it at each (re)connect.
      return [
        controllerStep,
        directory({ path: d, owner: 'root', group: 'mosquitto', mode: '0750' }),
        file({ name: 'CA certificate', path: `${d}/ca.crt`, content: m.caCert, owner: 'root', group: 'mosquitto', mode: '0644', notify: ['reload mosquitto'] }),
        file({ name: 'server certificate', path: `${d}/server.crt`, content: m.cert, owner: 'root', group: 'mosquitto', mode: '0644', notify: ['reload mosquitto'] }),
        file({ name: 'server key', path: `${d}/server.key`, content: m.key, owner: 'mosquitto', group: 'mosquitto', mode: '0600', sensitive: true, notify: ['reload mosquitto'] }),
      ];
    },
  },
});
