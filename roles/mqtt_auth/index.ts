import { z } from 'zod';
import { planDynsec, readDynsecState, reconcileDynsec } from '../../src/dynsec/index.js';
import { defineRole, type RoleContext, type Step } from '../../src/engine/types.js';
import { ControlClient } from '../../src/mqtt/control-client.js';
import { systemCredentials } from '../../src/cluster/credentials.js';
import { brokerVars, pick } from '../../src/cluster/variables.js';
import { BROKER_PATHS } from '../../src/cluster/broker.js';
import { inputsDigest, readObservation, recordObservation } from '../../src/cluster/observed-state.js';
import { fileFact } from '../../src/facts/files.js';
import { shq } from '../../src/transport/shell-quote.js';
import { desiredAuth } from './desired.js';
import { dynsecChangesSummary, notRunningSummary } from './summary.js';

const vars = z.object({
  ...brokerVars,
  ...pick('mqtt_users', 'mqtt_roles', 'mqtt_groups', 'mqtt_default_acl_access'),
  ...pick('cluster_mode', 'cluster_backend', 'cluster_routing', 'cluster_bridge_topics', 'cluster_bridge_failback', 'mqtt_bridge_port', 'mqtt_bridge_user', 'mqtt_bridge_password'),
});
type Vars = z.output<typeof vars>;

/** The observation (src/cluster/observed-state.ts) that lets a no-op skip the API read. */
const OBSERVED = 'dynamic-security';

/**
 * Reconciles the broker's dynamic-security state with the inventory over the control API, through the
 * SSH connection to the broker's local listener: read, diff, apply only the differences, read again.
 * A no-op skips the read: the broker saves dynamic-security.json after every change, so when that file's digest
 * (a fact of the phase's one batch) and the inventory's wishes are what they were when they last matched, nothing
 * can have changed.
 */
function reconcileStep(ctx: RoleContext<Vars>): Step {
  const admin = systemCredentials(ctx, ctx.vars).admin;
  const dynsecFile = fileFact(BROKER_PATHS.dynsecFile);
  const baseDir = ctx.play.inventory.baseDir;
  const connect = () =>
    ControlClient.connect({ stream: () => ctx.transport.forward('127.0.0.1', ctx.vars.mqtt_local_port), username: admin.username, password: admin.password, clientId: `provision-admin-${process.pid}` });
  return {
    name: 'users, roles and ACLs (dynamic security)',
    facts: ctx.vars.mqtt_auth_backend === 'dynsec' ? [dynsecFile] : [],
    plan: async (c, facts) => {
      if (ctx.vars.mqtt_auth_backend !== 'dynsec') return { skip: 'mqtt_auth_backend is password_file (managed in mosquitto_config)' };
      const { desired, own } = desiredAuth(c, ctx.vars);
      const inputs = inputsDigest(admin.password, desired);
      const file = facts.get(dynsecFile);
      const seen = readObservation(baseDir, c.name, OBSERVED);
      if (file.exists && file.sha256 && seen?.inputs === inputs && seen.evidence === file.sha256) {
        return { changes: [], message: 'as the inventory says since the last run (dynamic-security.json unchanged)' };
      }
      const observe = (sha256: string | undefined) => {
        if (!c.check && sha256) recordObservation(baseDir, c.name, OBSERVED, { inputs, evidence: sha256 });
      };
      let client: ControlClient;
      try {
        client = await connect();
      } catch (err) {
        // --check on a host whose broker is not set up yet: everything would be created.
        if (c.check) return { changes: [{ summary: notRunningSummary(desired, own) }], message: `no answer from the broker: ${(err as Error).message}` };
        throw err;
      }
      try {
        const changes = planDynsec(await readDynsecState(client), desired);
        if (changes.length === 0) {
          observe(file.sha256); // reading changes nothing: the digest gathered before the read is still the file's
          return { changes: [] };
        }
        return {
          changes: [
            {
              summary: dynsecChangesSummary(changes, own),
              diff: changes.map((x) => `~ ${x.summary}`).join('\n'),
              apply: async () => {
                const again = await connect();
                try {
                  const r = await reconcileDynsec(again, desired, { check: false, onProgress: (l) => c.progress(l) });
                  // The broker saved the file before it answered: its digest now stands for the verified state.
                  observe((await c.run(`sha256sum < ${shq(BROKER_PATHS.dynsecFile)}`)).slice(0, 64));
                  return `${r.changes.length} change(s) applied and verified`;
                } finally {
                  await again.close();
                }
              },
            },
          ],
        };
      } finally {
        await client.close();
      }
    },
  };
}

export default defineRole({
  name: 'mqtt_auth',
  description: 'Users, roles, groups, ACLs and default access from the inventory, reconciled on every broker via the dynamic-security API.',
  vars,
  phases: {
    runtime: (ctx) => [reconcileStep(ctx)],
    cluster: (ctx) => [reconcileStep(ctx)],
  },
});
