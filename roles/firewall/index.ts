import { z } from 'zod';
import { defineRole, type HostContext } from '../../src/engine/types.js';
import { firewall, type FirewallBackend } from '../../src/operations/firewall.js';
import { packages } from '../../src/operations/package.js';
import { service } from '../../src/operations/service.js';
import { brokerVars, pick } from '../../src/cluster/variables.js';
import { hostCidrs, isLoadBalancer, loadBalancerHosts } from '../../src/cluster/topology.js';

const vars = z.object({ ...brokerVars, ...pick('firewall_backend', 'cluster_vip', 'cluster_backend', 'cedalo_ha_port', 'prometheus_cidr', 'firewall_extra_ports') });

export function chosenBackend(ctx: HostContext, wanted: 'auto' | FirewallBackend): FirewallBackend {
  if (wanted !== 'auto') return wanted;
  return ctx.facts.os.family === 'redhat' ? 'firewalld' : 'nftables';
}

const PACKAGE: Record<FirewallBackend, string> = { nftables: 'nftables', ufw: 'ufw', firewalld: 'firewalld' };

/**
 * Our nftables file needs no /etc/protocols or /etc/services, but firewalld resolves every protocol it is
 * given ("tcp" in 8883/tcp too) with getprotobyname(): on a Debian host installed without netbase (minbase,
 * slim images) it does not even load its stock configuration ("INVALID_PROTOCOL: esp"). netbase (two small
 * files) comes with it; ufw pulls it in through iptables anyway. On Rocky /etc/protocols belongs to `setup`, which every system has.
 */
function backendPackages(ctx: HostContext, backend: FirewallBackend): string[] {
  return backend === 'firewalld' && ctx.facts.os.family === 'debian' ? [PACKAGE[backend], 'netbase'] : [PACKAGE[backend]];
}

export default defineRole({
  name: 'firewall',
  description: 'Inbound: the SSH port of this run, 8883, 9234 (optionally only from Prometheus), the LB listener from load balancers only; everything else dropped.',
  vars,
  phases: {
    build: (ctx) => [packages({ name: 'firewall tooling', names: backendPackages(ctx, chosenBackend(ctx, ctx.vars.firewall_backend)) })],
    configure: (ctx) => {
      const v = ctx.vars;
      const backend = chosenBackend(ctx, v.firewall_backend);
      const lbSources = hostCidrs(ctx, loadBalancerHosts(ctx));
      // The other brokers (absent ones included until they leave the inventory).
      const peerBrokers = hostCidrs(ctx, (ctx.play.inventory.groups.get('brokers')?.hosts ?? []).filter((h) => h !== ctx.name));
      const broker = (ctx.play.inventory.groups.get('brokers')?.hosts ?? []).includes(ctx.name);
      const allow = [
        { port: v.mqtt_tls_port, proto: 'tcp' as const, sources: [], comment: 'MQTT over TLS' },
        ...(broker ? [{ port: v.exporter_port, proto: 'tcp' as const, sources: v.prometheus_cidr, comment: 'Prometheus exporter' }] : []),
        ...(broker && lbSources.length ? [{ port: v.mqtt_lb_port, proto: 'tcp' as const, sources: lbSources, comment: 'MQTT from load balancers' }] : []),
        ...(isLoadBalancer(ctx)
          ? [
              { port: v.haproxy_metrics_port, proto: 'tcp' as const, sources: v.prometheus_cidr, comment: 'HAProxy metrics' },
              ...(lbSources.length > 1 ? [{ port: v.haproxy_peers_port, proto: 'tcp' as const, sources: lbSources, comment: 'HAProxy peers' }] : []),
              ...(v.cluster_vip && lbSources.length > 1 ? [{ port: 0, proto: 'vrrp' as const, sources: lbSources, comment: 'VRRP between load balancers' }] : []),
            ]
          : []),
        // Cedalo's cluster traffic is unencrypted: only from the other brokers, never from anywhere.
        ...(broker && v.cluster_backend === 'cedalo' && peerBrokers.length
          ? [{ port: v.cedalo_ha_port, proto: 'tcp' as const, sources: peerBrokers, comment: 'Cedalo HA cluster (other brokers only)' }]
          : []),
        ...v.firewall_extra_ports.map((p) => ({ ...p, comment: 'firewall_extra_ports' })),
      ];
      const steps = [firewall({ backend, allow, sshPort: ctx.transport.sshPort, defaultInbound: 'drop' })];
      if (backend === 'firewalld') steps.unshift(service({ name: 'firewalld', enabled: true, state: 'started' }));
      return steps;
    },
  },
});
