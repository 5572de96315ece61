import { z } from 'zod';
import { defineRole, type Step } from '../../src/engine/types.js';
import { HEALTH_CHECK_SECRET_LINE, renderHaproxyConfig } from '../../src/haproxy/config.js';
import { renderKeepalivedConfig } from '../../src/keepalived/config.js';
import { command } from '../../src/operations/command.js';
import { directory, file } from '../../src/operations/file.js';
import { packages } from '../../src/operations/package.js';
import { selinuxPort } from '../../src/operations/selinux.js';
import { service, systemdUnit } from '../../src/operations/service.js';
import { systemCredentials } from '../../src/cluster/credentials.js';
import { brokerVars, pick, tlsVars } from '../../src/cluster/variables.js';
import { certificateFor } from '../../src/cluster/certificate.js';
import { activeBrokers, addressOf, loadBalancerHosts } from '../../src/cluster/topology.js';

const vars = z.object({ ...brokerVars, ...tlsVars, ...pick('cluster_mode', 'cluster_backend', 'max_keepalive', 'keepalived_router_id', 'keepalived_interface', 'keepalived_password') });

const CFG = '/etc/haproxy/haproxy.cfg';
const PEM = '/etc/haproxy/certs/mqtt.pem';

export default defineRole({
  name: 'haproxy',
  description: 'HAProxy in front of the brokers: TLS on 8883, MQTT validation and health checks, active-passive or sticky active-active; optional keepalived VIP.',
  vars,
  phases: {
    build: (ctx) => [packages({ name: 'load balancer packages', names: ['haproxy', 'socat', ...(ctx.vars.cluster_vip ? ['keepalived'] : [])] })],
    configure: async (ctx) => {
      const v = ctx.vars;
      const m = await certificateFor(ctx, v);
      const lbs = loadBalancerHosts(ctx);
      const self = addressOf(ctx, ctx.name);
      const health = systemCredentials(ctx, v).health;
      const cfg = renderHaproxyConfig({
        mode: v.cluster_mode,
        bind: [{ address: self, port: v.mqtt_tls_port }, ...(v.cluster_vip ? [{ address: v.cluster_vip.split('/')[0]!, port: v.mqtt_tls_port }] : [])],
        tlsPemPath: PEM,
        servers: activeBrokers(ctx).map((b) => ({ name: b.name, address: b.address, port: v.mqtt_lb_port })),
        healthCheck: { username: health.username, password: health.password, clientId: `hc-${ctx.name}` },
        ...(v.cluster_mode === 'active-active' && lbs.length > 1
          ? { peers: { localName: ctx.name, members: lbs.map((h) => ({ name: h, address: addressOf(ctx, h), port: v.haproxy_peers_port })) } }
          : {}),
        maxKeepaliveSeconds: v.max_keepalive,
        metrics: { address: self, port: v.haproxy_metrics_port },
      });
      const steps: Step[] = [
        directory({ path: '/etc/haproxy/certs', owner: 'root', group: 'haproxy', mode: '0750' }),
        file({ name: 'TLS certificate and key for clients', path: PEM, content: `${m.cert.trim()}\n${m.key.trim()}\n`, owner: 'root', group: 'haproxy', mode: '0640', sensitive: true, notify: ['reload haproxy'] }),
        // Only the health check's CONNECT line holds a secret: --diff shows the rest of the file.
        file({ name: 'haproxy.cfg', path: CFG, content: cfg, owner: 'root', group: 'haproxy', mode: '0640', sensitive: true, secretLines: HEALTH_CHECK_SECRET_LINE, validate: 'haproxy -c -q -f %s', notify: ['reload haproxy'] }),
      ];
      if (ctx.facts.os.family === 'redhat') {
        // Debian's unit creates /run/haproxy for the admin socket; Rocky's does not.
        steps.unshift(
          directory({ path: '/etc/systemd/system/haproxy.service.d', owner: 'root', group: 'root', mode: '0755' }),
          systemdUnit({ name: 'haproxy.service.d/provision.conf', content: '[Service]\nRuntimeDirectory=haproxy\n', notify: ['reload haproxy'] }),
        );
      }
      if (ctx.facts.os.family === 'redhat' && ctx.facts.selinux !== 'absent' && ctx.facts.selinux !== 'disabled') {
        // haproxy_t is confined: label its listening ports and let it reach the brokers' private listener.
        steps.unshift(
          selinuxPort({ port: v.mqtt_tls_port, proto: 'tcp', type: 'http_port_t' }),
          selinuxPort({ port: v.haproxy_metrics_port, proto: 'tcp', type: 'http_port_t' }),
          command({ name: 'SELinux: haproxy may connect to the brokers', unless: 'getsebool haproxy_connect_any | grep -q "on$"', script: 'setsebool -P haproxy_connect_any 1' }),
        );
      }
      if (v.cluster_vip) {
        // HAProxy on a load balancer that does not hold the VIP must still bind it.
        steps.unshift(
          file({ name: 'allow binding the VIP before holding it', path: '/etc/sysctl.d/60-provision-haproxy.conf', content: 'net.ipv4.ip_nonlocal_bind = 1\n', owner: 'root', group: 'root', mode: '0644' }),
          command({ name: 'ip_nonlocal_bind active', unless: 'test "$(sysctl -n net.ipv4.ip_nonlocal_bind)" = 1', script: 'sysctl -q -w net.ipv4.ip_nonlocal_bind=1' }),
        );
        const priority = 150 - lbs.indexOf(ctx.name);
        steps.push(
          file({
            name: 'keepalived.conf (VIP)',
            path: '/etc/keepalived/keepalived.conf',
            content: renderKeepalivedConfig({ vip: v.cluster_vip, interface: v.keepalived_interface, routerId: v.keepalived_router_id, priority, peers: lbs.map((h) => addressOf(ctx, h)), selfAddress: self, ...(v.keepalived_password ? { authPass: v.keepalived_password } : {}) }),
            owner: 'root',
            group: 'root',
            mode: '0640',
            sensitive: true,
            notify: ['restart keepalived'],
          }),
        );
      }
      return steps;
    },
    runtime: (ctx) => [service({ name: 'haproxy', enabled: true, state: 'started' }), ...(ctx.vars.cluster_vip ? [service({ name: 'keepalived', enabled: true, state: 'started' })] : [])],
  },
  handlers: {
    'reload haproxy': { steps: () => [service({ name: 'haproxy', state: 'reloaded' })] },
    'restart keepalived': { steps: () => [service({ name: 'keepalived', state: 'restarted' })] },
  },
});
