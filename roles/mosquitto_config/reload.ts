import { StepError } from '../../src/errors.js';
import type { FactResults, HostContext, Step } from '../../src/engine/types.js';
import { fingerprintOf, servedCertificate } from '../../src/health/served-certificate.js';
import { waitUntil } from '../../src/health/broker-health.js';
import { BROKER_PATHS } from '../../src/cluster/broker.js';
import { brokerLoaded } from '../../src/cluster/broker-loaded.js';

/** restartWithRollback reads no facts. */
const NO_FACTS: FactResults = {
  get: () => {
    throw new Error('the restart step reads no facts');
  },
};

async function served(ctx: HostContext, tlsPort: number): Promise<string> {
  return (await servedCertificate(await ctx.transport.forward('127.0.0.1', tlsPort), { servername: ctx.name })).fingerprint256;
}

/**
 * A new server certificate without a disconnect: mosquitto (2.0.0 and later, checked on Debian 12's 2.0.11)
 * reloads certfile/keyfile on SIGHUP (`systemctl reload` = `kill -HUP $MAINPID`) for new TLS handshakes and
 * keeps every established connection. Nothing to do when the broker started (or reloaded) after the files were
 * written — a restart in the same run loaded them. The reload is proven by a fresh handshake that must present
 * the new certificate; when the broker keeps the old one (it logs "Error when reloading certificate"), it is
 * restarted instead: the restart loads the files or fails its health check, which restores the previous ones.
 */
export function reloadCertificates(o: { tlsPort: number; cert: () => Promise<string>; restart: Step; proofTimeoutMs?: number }): Step {
  return {
    name: 'reload mosquitto (new TLS certificate, connections kept)',
    facts: [brokerLoaded],
    plan: (ctx, facts) => {
      if (ctx.facts.init === 'systemd' && facts.get(brokerLoaded) === '') return { changes: [], message: 'the running broker loaded this certificate already' };
      return {
        changes: [
          {
            summary: 'reload mosquitto (SIGHUP): new TLS handshakes get the new certificate, connected clients stay',
            apply: async (c) => {
              const want = fingerprintOf(await o.cert());
              const cmd = c.facts.init === 'systemd' ? 'systemctl reload mosquitto' : '/etc/init.d/mosquitto reload';
              await c.transport.script(cmd, { timeoutMs: 30_000 });
              try {
                await waitUntil(async () => {
                  const got = await served(c, o.tlsPort);
                  if (got !== want) throw new StepError(`the broker still presents certificate ${got.slice(0, 23)}…, not ${want.slice(0, 23)}…`);
                }, o.proofTimeoutMs ?? 10_000, 250);
              } catch (err) {
                const plan = await o.restart.plan(c, NO_FACTS);
                if ('changes' in plan) for (const ch of plan.changes) await ch.apply?.(c);
                return `reload did not take (${(err as Error).message}): restarted instead`;
              }
              await c.transport.script(`touch ${BROKER_PATHS.certsLoadedMarker}`);
              return 'serving the new certificate; established connections kept';
            },
          },
        ],
      };
    },
  };
}
