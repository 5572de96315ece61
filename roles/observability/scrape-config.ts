import { isAbsent } from '../../src/engine/absent.js';
import { resolve } from 'node:path';
import type { HostContext } from '../../src/engine/types.js';
import { activeBrokers, addressOf } from '../../src/cluster/topology.js';
import { endpointVarsOf, exporterEndpoint, hostPort, type EndpointVars } from '../../src/cluster/endpoints.js';

/** One Prometheus target: `<address>:<port>`, labelled with the inventory name of the host it runs on. */
export interface ScrapeTarget {
  host: string;
  target: string;
}

export interface ScrapeTargets {
  /** sapcc/mosquitto-exporter on every active broker. */
  mosquitto: ScrapeTarget[];
  /** HAProxy's built-in Prometheus exporter (`/metrics`) on every load balancer. */
  haproxy: ScrapeTarget[];
}

export const SCRAPE_CONFIG_FILE = 'provision.yml';
export const DEFAULT_SCRAPE_CONFIG_DIR = 'prometheus';

/**
 * Where a broker's exporter is scraped. `exporter_bind_address` (`address:port`) wins when set: its port always,
 * its address unless it is a wildcard (then the broker's own address, as for the default bind).
 */
function exporterTarget(address: string, v: EndpointVars): string {
  const e = exporterEndpoint(address, v);
  return hostPort(e.address, e.port);
}

/**
 * Every target of the cluster, from the whole inventory (not only this play's hosts, nor only the --limit):
 * brokers not marked `state: absent`, and load balancers not marked `state: absent`, in inventory order.
 * Addresses come from the facts gathered in this run, else `ansible_host`, else the inventory name.
 */
export function scrapeTargets(ctx: HostContext): ScrapeTargets {
  const inv = ctx.play.inventory;
  const mosquitto = activeBrokers(ctx).map((b) => ({ host: b.name, target: exporterTarget(b.address, endpointVarsOf(ctx, b.name)) }));
  const haproxy = (inv.groups.get('loadbalancers')?.hosts ?? [])
    .filter((h) => !isAbsent(inv.hosts.get(h)!))
    .map((h) => ({ host: h, target: hostPort(addressOf(ctx, h), endpointVarsOf(ctx, h).haproxy_metrics_port) }));
  return { mosquitto, haproxy };
}

const q = (s: string): string => JSON.stringify(s);

function job(name: string, targets: ScrapeTarget[]): string[] {
  const out = [`  - job_name: ${q(name)}`, `    metrics_path: ${q('/metrics')}`, `    scheme: ${q('http')}`];
  if (targets.length === 0) return [...out, '    static_configs: []'];
  out.push('    static_configs:');
  for (const t of targets) out.push(`      - targets: [${q(t.target)}]`, '        labels:', `          host: ${q(t.host)}`);
  return out;
}

/**
 * A Prometheus `scrape_configs:` fragment: load it with `scrape_config_files: [<path>]` (Prometheus ≥ 2.43) or paste
 * its jobs into prometheus.yml. Same targets → same bytes (no timestamps), so reruns report no change.
 */
export function renderScrapeConfig(t: ScrapeTargets): string {
  return [
    '# Prometheus scrape jobs for the Mosquitto cluster, written by provision (role observability).',
    '# Generated from the inventory on every run: edit the inventory, not this file.',
    '# Load it from prometheus.yml with  scrape_config_files: [<this file>]  (Prometheus >= 2.43),',
    '# or copy the jobs below under scrape_configs:. The Grafana dashboard expects these job names.',
    'scrape_configs:',
    ...job('mosquitto', t.mosquitto),
    ...job('haproxy', t.haproxy),
    '',
  ].join('\n');
}

/** `<inventory dir>/prometheus/provision.yml`; a relative `prometheus_scrape_config_dir` is taken from the inventory directory. */
export function scrapeConfigPath(ctx: HostContext, dir: string | undefined): string {
  return resolve(ctx.play.inventory.baseDir, dir ?? DEFAULT_SCRAPE_CONFIG_DIR, SCRAPE_CONFIG_FILE);
}
