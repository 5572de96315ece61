/**
 * cedalo_ha: a Cedalo Mosquitto HA cluster (commercial plugin, Raft on port 7000) formed and kept in
 * line with the inventory. Does nothing unless `cluster_backend: cedalo`.
 *
 *   configure  licence upload, systemd drop-in (CEDALO_LICENSE_FILE, CEDALO_HA_DATA_DIR), HA data dir
 *              → notifies mosquitto_config's "restart mosquitto" (so the role belongs in the brokers play,
 *              with mosquitto_config; its cluster phase then also runs before any broker is decommissioned)
 *   cluster    per broker: the admin role may use the HA control API (`<prefix>/cedalo/ha/#`); then ONE
 *              run-once step (waiting for all of those): the membership from the inventory's `brokers`
 *              (createCluster/joinCluster; addNode/joinCluster; removeNode/leaveCluster for `state: absent`;
 *              never below 3 nodes). `state: absent` brokers wait for it and fail when it failed, so a
 *              refused removal never lets a later play decommission them.
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
import { defineRole, type RoleContext, type Step } from '../../src/engine/types.js';
import { StepError } from '../../src/errors.js';
import { copy, directory, file } from '../../src/operations/file.js';
import { brokerVars, cedaloVars } from '../../src/cluster/variables.js';
import { resolveLocal } from '../../src/cluster/exporter-binary.js';
import { systemCredentials } from '../../src/cluster/credentials.js';
import { aclStep } from './acl.js';
import { absentGuardStep, membershipStep } from './cluster.js';
import { CEDALO_PATHS } from '../../src/cluster/cedalo.js';

const vars = z.object({ ...brokerVars, ...cedaloVars });
type Vars = z.output<typeof vars>;

/** mosquitto_config's handler (rolling restart with health check and rollback): this role sits in the brokers play with it. */
export const RESTART_HANDLER = 'restart mosquitto';

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

export default defineRole({
  name: 'cedalo_ha',
  description: 'Cedalo HA (cluster_backend: cedalo): licence, plugin environment, and the cluster membership reconciled with the inventory through the HA control API.',
  vars,
  phases: {
    configure: (ctx) => configureSteps(ctx),
    cluster: (ctx) =>
      ctx.vars.cluster_backend === 'cedalo'
        ? [aclStep({ adminPort: ctx.vars.cedalo_admin_port, controlPrefix: ctx.vars.cedalo_control_prefix, login: systemCredentials(ctx, ctx.vars).admin }), membershipStep(ctx)]
        : [],
  },
  /** `state: absent` brokers: decommissioned by a later play only once the membership step removed them. */
  absent: {
    cluster: (ctx) => (ctx.vars.cluster_backend === 'cedalo' ? [absentGuardStep()] : []),
  },
});
