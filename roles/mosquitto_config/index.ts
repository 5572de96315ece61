import { z } from 'zod';
import { defineRole, type HostContext, type RoleContext, type Step } from '../../src/engine/types.js';
import { command } from '../../src/operations/command.js';
import { directory, file } from '../../src/operations/file.js';
import { shq } from '../../src/transport/shell-quote.js';
import { certificateFor } from '../../src/cluster/certificate.js';
import { brokerVars, cedaloBrokerVars, pick, tlsVars } from '../../src/cluster/variables.js';
import { systemCredentials } from '../../src/cluster/credentials.js';
import { passwordFileSteps } from './password-file.js';
import { restartWithRollback, revertConfig } from './restart.js';
import { reloadCertificates } from './reload.js';
import { renderMosquittoConf } from './template.js';
import { activeBrokers, loadBalancerHosts } from '../../src/cluster/topology.js';
import { BROKER_PATHS, dynsecPluginPath } from '../../src/cluster/broker.js';
import { bridgeConfFor } from './bridge.js';

const vars = z.object({
  ...brokerVars,
  ...tlsVars,
  ...cedaloBrokerVars,
  ...pick('max_keepalive', 'max_packet_size', 'max_queued_messages', 'set_tcp_nodelay', 'sys_interval', 'persistence', 'autosave_interval', 'mosquitto_extra_config', 'mqtt_users', 'mqtt_roles', 'mqtt_groups', 'mqtt_default_acl_access'),
  ...pick('cluster_mode', 'cluster_routing', 'cluster_bridge_topics', 'cluster_bridge_failback', 'mqtt_bridge_port', 'mqtt_bridge_user', 'mqtt_bridge_password'),
});

function restartStep(ctx: RoleContext<z.output<typeof vars>>): Step {
  return restartWithRollback({
    tlsPort: ctx.vars.mqtt_tls_port,
    ca: async () => (await certificateFor(ctx, ctx.vars)).caCert,
    login: systemCredentials(ctx, ctx.vars).admin,
    ...(ctx.vars.cluster_backend === 'cedalo' ? { plainPort: ctx.vars.cedalo_admin_port } : {}),
  });
}

export default defineRole({
  name: 'mosquitto_config',
  description: 'mosquitto.conf (TLS 8883, local 1883, private LB listener), authentication (dynamic security or password file).',
  vars,
  phases: {
    configure: (ctx) => {
      const v = ctx.vars;
      const creds = systemCredentials(ctx, v);
      const dynsec = v.mqtt_auth_backend === 'dynsec';
      const steps: Step[] = [directory({ path: BROKER_PATHS.dataDir, owner: 'mosquitto', group: 'mosquitto', mode: '0750' })];
      if (dynsec) {
        const pw = creds.admin.password.reveal();
        steps.push(
          command({
            name: 'dynamic-security store with the admin account',
            creates: BROKER_PATHS.dynsecFile,
            // The password reaches mosquitto_ctrl on stdin (printf is a shell builtin: no process list).
            script: `umask 077; printf '%s\\n%s\\n' ${shq(pw)} ${shq(pw)} | mosquitto_ctrl dynsec init ${BROKER_PATHS.dynsecFile} ${shq(creds.admin.username)} >/dev/null && chown mosquitto:mosquitto ${BROKER_PATHS.dynsecFile}`,
            notify: ['restart mosquitto'],
          }),
        );
      } else {
        steps.push(...passwordFileSteps(ctx, creds));
      }
      const lbs = loadBalancerHosts(ctx);
      const conf = renderMosquittoConf({
        ...(dynsec ? { pluginPath: dynsecPluginPath(ctx.facts) } : { passwordFile: BROKER_PATHS.passwordFile, aclFile: BROKER_PATHS.aclFile }),
        dynsecFile: BROKER_PATHS.dynsecFile,
        dataDir: BROKER_PATHS.dataDir,
        certDir: BROKER_PATHS.certDir,
        localPort: v.mqtt_local_port,
        tlsPort: v.mqtt_tls_port,
        ...(lbs.includes(ctx.name) ? { tlsBind: '127.0.0.1' } : {}),
        ...(lbs.length ? { lb: { address: ctx.facts.primaryAddress, port: v.mqtt_lb_port } } : {}),
        maxKeepalive: v.max_keepalive,
        maxPacketSize: v.max_packet_size,
        maxQueuedMessages: v.max_queued_messages,
        setTcpNodelay: v.set_tcp_nodelay,
        sysInterval: v.sys_interval,
        persistence: v.persistence,
        autosaveInterval: v.autosave_interval,
        extra: v.mosquitto_extra_config,
        // Cedalo HA: plugin, control API and admin listener (roles/cedalo_ha forms the cluster).
        ...(v.cluster_backend === 'cedalo' ? { cedalo: { pluginPath: v.cedalo_ha_plugin_path, adminPort: v.cedalo_admin_port } } : {}),
        ...bridgeConfFor(ctx, activeBrokers(ctx)),
      });
      steps.push(file({ name: 'mosquitto.conf', path: BROKER_PATHS.conf, content: conf, owner: 'root', group: 'mosquitto', mode: '0640', backup: true, notify: ['restart mosquitto'] }));
      return steps;
    },
  },
  // Defined after the restart: when a run notifies both, the restart loads the certificates and the reload
  // finds the broker already serving them.
  handlers: {
    'restart mosquitto': {
      rolling: true,
      revert: () => [revertConfig()],
      steps: (ctx) => [restartStep(ctx)],
    },
    'reload mosquitto': {
      // One broker at a time like a restart, though nobody is disconnected: a bad certificate stops the rollout.
      rolling: true,
      // Cedalo's plugin closes the TLS listener on followers, where no handshake can prove a reload: restart there.
      steps: (ctx) => [ctx.vars.cluster_backend === 'cedalo' ? restartStep(ctx) : reloadCertificates({ tlsPort: ctx.vars.mqtt_tls_port, cert: async () => (await certificateFor(ctx, ctx.vars)).cert, restart: restartStep(ctx) })],
    },
  },
});
