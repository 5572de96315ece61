/**
 * cedalo_ha: a Cedalo Mosquitto HA cluster (commercial plugin, Raft on port 7000) formed and kept in
 * line with the inventory. Does nothing unless `cluster_backend: cedalo`.
 *
 *   configure  licence upload, systemd drop-in (CEDALO_LICENSE_FILE, CEDALO_HA_DATA_DIR), HA data dir
 *              → handler "restart mosquitto (cedalo)": restart, then wait for an admin-listener login
 *   runtime    the admin role may use the HA control API (`<prefix>/cedalo/ha/#`)
 *   cluster    ONE run-once step: membership from the inventory's `brokers` (createCluster/joinCluster;
 *              addNode/joinCluster; removeNode/leaveCluster for `state: absent`; never below 3 nodes)
 *
 * mosquitto.conf itself (global_plugin, enable_control_api, admin listener) comes from mosquitto_config,
 * which reads the same `cluster_backend`/`cedalo_*` variables.
 *
 * SIMULATOR MODE (`cedalo_ha_plugin_path: null`): for tests on stock Mosquitto without Cedalo's plugin.
 * No Cedalo-only options in mosquitto.conf, the admin port is a plain loopback listener, and something
 * else (test/fixtures/cedalo-ha-simulator) answers the HA API on `cedalo_control_prefix` — usually not
 * `$CONTROL`, which stock Mosquitto keeps from plain clients.
 */
import { z } from 'zod';
import { defineRole, type HostContext, type RoleContext, type Step } from '../../src/engine/types.js';
import { StepError } from '../../src/errors.js';
import { waitUntil } from '../../src/health/broker-health.js';
import { ControlClient } from '../../src/mqtt/control-client.js';
import { copy, directory, file } from '../../src/operations/file.js';
import { systemCredentials } from '../mosquitto_config/credentials.js';
import { brokerVars } from '../mosquitto_config/vars.js';
import { resolveLocal } from '../exporter/binary.js';
import { controlAclStep } from './acl.js';
import { membershipStep } from './cluster.js';
import { CEDALO_PATHS, cedaloVars } from './vars.js';

const vars = z.object({ ...brokerVars, ...cedaloVars });
type Vars = z.output<typeof vars>;

export const RESTART_HANDLER = 'restart mosquitto (cedalo)';

/** The systemd drop-in giving the plugin its licence and data directory. */
export function renderDropIn(o: { license: boolean }): string {
  return [
    '# Managed by provision (cedalo_ha): environment of the Cedalo HA plugin.',
    '[Service]',
    ...(o.license ? [`Environment=CEDALO_LICENSE_FILE=${CEDALO_PATHS.license}`] : []),
    `Environment=CEDALO_HA_DATA_DIR=${CEDALO_PATHS.dataDir}`,
    '',
  ].join('\n');
}

function failing(name: string, message: string): Step {
  return {
    name,
    plan: () => {
      throw new StepError(message);
    },
  };
}

export function configureSteps(ctx: RoleContext<Vars>): Step[] {
  const v = ctx.vars;
  if (v.cluster_backend !== 'cedalo') return [];
  const simulator = v.cedalo_ha_plugin_path === null;
  const steps: Step[] = [];
  if (v.cedalo_license_file) {
    steps.push(copy({ name: 'Cedalo licence', src: resolveLocal(ctx, v.cedalo_license_file), dest: CEDALO_PATHS.license, owner: 'root', group: 'mosquitto', mode: '0640', notify: [RESTART_HANDLER] }));
  } else if (!simulator) {
    steps.push(failing('Cedalo licence', 'cluster_backend is cedalo but cedalo_license_file is not set (the HA plugin needs a licence; cedalo_ha_plugin_path: null is simulator mode, without the plugin)'));
  }
  steps.push(directory({ name: 'Cedalo HA data directory', path: CEDALO_PATHS.dataDir, owner: 'mosquitto', group: 'mosquitto', mode: '0750' }));
  if (ctx.facts.init !== 'systemd') {
    if (!simulator) steps.push(failing('Cedalo HA environment', `the Cedalo HA plugin gets its environment from a systemd drop-in; ${ctx.name} does not run systemd (init: ${ctx.facts.init})`));
    return steps;
  }
  const dropIn = file({ name: 'Cedalo HA environment (systemd drop-in)', path: CEDALO_PATHS.dropIn, content: renderDropIn({ license: !!v.cedalo_license_file }), owner: 'root', group: 'root', mode: '0644', notify: [RESTART_HANDLER] });
  steps.push(directory({ path: CEDALO_PATHS.dropInDir, owner: 'root', group: 'root', mode: '0755' }), {
    ...dropIn,
    plan: async (c, facts) => {
      const p = await dropIn.plan(c, facts);
      if ('changes' in p) for (const ch of p.changes) ch.actions?.push({ script: 'systemctl daemon-reload' });
      return p;
    },
  });
  return steps;
}

/** Restart, then wait until the admin listener (open on leader and followers alike) accepts the admin. */
function restartStep(ctx: RoleContext<Vars>): Step {
  const admin = systemCredentials(ctx, ctx.vars).admin;
  return {
    name: 'restart mosquitto and wait for its admin listener',
    plan: () => ({
      changes: [
        {
          summary: 'restart mosquitto',
          apply: async (hc: HostContext) => {
            const r = await hc.transport.script('systemctl daemon-reload && systemctl restart mosquitto', { timeoutMs: 60_000 });
            if (r.code !== 0) throw new StepError(`systemctl restart mosquitto failed (${r.code}): ${r.stderr.trim()}`);
            try {
              await waitUntil(async () => {
                const c = await ControlClient.connect({ stream: () => hc.transport.forward('127.0.0.1', ctx.vars.cedalo_admin_port), username: admin.username, password: admin.password, timeoutMs: 3000 });
                await c.close();
              }, 30_000, 500);
            } catch (e) {
              const log = (await hc.transport.script('journalctl -u mosquitto -n 12 --no-pager -o cat 2>/dev/null | grep -v "^$" | tail -n 8')).stdout.trim();
              throw new StepError(`mosquitto did not accept the admin on 127.0.0.1:${ctx.vars.cedalo_admin_port} after the restart (${(e as Error).message}). Broker log:\n${log}`);
            }
          },
        },
      ],
    }),
  };
}

export default defineRole({
  name: 'cedalo_ha',
  description: 'Cedalo HA (cluster_backend: cedalo): licence, plugin environment, and the cluster membership reconciled with the inventory through the HA control API.',
  vars,
  phases: {
    configure: (ctx) => configureSteps(ctx),
    runtime: (ctx) => {
      if (ctx.vars.cluster_backend !== 'cedalo') return [];
      if (ctx.vars.mqtt_auth_backend !== 'dynsec')
        return [failing('admin role may use the Cedalo HA control API', 'cluster_backend: cedalo needs mqtt_auth_backend: dynsec (the admin must be granted the HA control API topics)')];
      return [controlAclStep({ adminPort: ctx.vars.cedalo_admin_port, controlPrefix: ctx.vars.cedalo_control_prefix, login: systemCredentials(ctx, ctx.vars).admin })];
    },
    cluster: (ctx) => (ctx.vars.cluster_backend === 'cedalo' ? [membershipStep(ctx)] : []),
  },
  handlers: {
    [RESTART_HANDLER]: { rolling: true, steps: (ctx) => [restartStep(ctx)] },
  },
});
