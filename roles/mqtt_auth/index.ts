import { z } from 'zod';
import { planDynsec, readDynsecState, reconcileDynsec } from '../../src/dynsec/index.js';
import { defineRole, type RoleContext, type Step } from '../../src/engine/types.js';
import { ControlClient } from '../../src/mqtt/control-client.js';
import { systemCredentials } from '../../src/cluster/credentials.js';
import { brokerVars, pick } from '../../src/cluster/variables.js';
import { desiredAuth } from './desired.js';

const vars = z.object({ ...brokerVars, ...pick('mqtt_users', 'mqtt_roles', 'mqtt_groups', 'mqtt_default_acl_access') });
type Vars = z.output<typeof vars>;

/**
 * Reconciles the broker's dynamic-security state with the inventory over the control API, through the
 * SSH connection to the broker's local listener: read, diff, apply only the differences, read again.
 */
function reconcileStep(ctx: RoleContext<Vars>): Step {
  const admin = systemCredentials(ctx, ctx.vars).admin;
  const connect = () =>
    ControlClient.connect({ stream: () => ctx.transport.forward('127.0.0.1', ctx.vars.mqtt_local_port), username: admin.username, password: admin.password, clientId: `provision-admin-${process.pid}` });
  return {
    name: 'users, roles and ACLs (dynamic security)',
    plan: async (c) => {
      if (ctx.vars.mqtt_auth_backend !== 'dynsec') return { skip: 'mqtt_auth_backend is password_file (managed in mosquitto_config)' };
      const desired = desiredAuth(c, ctx.vars);
      let client: ControlClient;
      try {
        client = await connect();
      } catch (err) {
        // --check on a host whose broker is not set up yet: everything would be created.
        if (c.check) return { changes: [{ summary: `create ${desired.clients.length} client(s) and ${desired.roles.length} role(s) once the broker runs (not reachable now: ${(err as Error).message})` }] };
        throw err;
      }
      try {
        const changes = planDynsec(await readDynsecState(client), desired);
        if (changes.length === 0) return { changes: [] };
        return {
          changes: [
            {
              summary: `${changes.length} dynamic-security change(s): ${changes.slice(0, 6).map((x) => x.summary).join('; ')}${changes.length > 6 ? '; …' : ''}`,
              diff: changes.map((x) => `~ ${x.summary}`).join('\n'),
              apply: async () => {
                const again = await connect();
                try {
                  const r = await reconcileDynsec(again, desired, { check: false, onProgress: (l) => c.progress(l) });
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
