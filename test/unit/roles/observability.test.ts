/**
 * The observability role (Prometheus scrape config written beside the inventory) and the Grafana dashboard
 * shipped in docs/grafana: rendering, change detection and check mode of the run-once step, and the dashboard's
 * queries checked against the metric names the exporters really serve.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import observability, { SCRAPE_STEP_NAME } from '../../../roles/observability/index.js';
import { renderScrapeConfig, scrapeConfigPath, scrapeTargets } from '../../../roles/observability/scrape-config.js';
import { ASSUMED_FACTS, offlinePlayContext, offlineRoleContext } from '../../../src/engine/offline-context.js';
import type { HostContext, RoleContext, Step, StepPlan } from '../../../src/engine/types.js';
import type { HostFacts } from '../../../src/facts/host-facts.js';
import { loadInventory } from '../../../src/inventory/load.js';
import type { Inventory } from '../../../src/inventory/types.js';
import { validateHostVars } from '../../../src/inventory/validate.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const DASHBOARD = join(HERE, '..', '..', '..', 'docs', 'grafana', 'provision-dashboard.json');

/**
 * Metric names the dashboard may use. Mosquitto: sapcc/mosquitto-exporter names ($SYS/ topic minus the prefix,
 * `/`, space, `-`, `.` → `_`; see test/fixtures/mosquitto-exporter/main.go). HAProxy: the 2.6 built-in
 * Prometheus exporter (`http-request use-service prometheus-exporter`), as served on /metrics.
 */
const KNOWN_METRICS = new Set([
  // mosquitto-exporter counters
  'broker_bytes_received',
  'broker_bytes_sent',
  'broker_messages_received',
  'broker_messages_sent',
  'broker_publish_messages_received',
  'broker_publish_messages_sent',
  'broker_publish_messages_dropped',
  'broker_publish_bytes_received',
  'broker_publish_bytes_sent',
  'broker_uptime',
  'broker_clients_maximum',
  'broker_clients_total',
  // mosquitto-exporter gauges
  'broker_clients_connected',
  'broker_clients_disconnected',
  'broker_clients_expired',
  'broker_subscriptions_count',
  'broker_retained_messages_count',
  'broker_messages_stored',
  'broker_store_messages_count',
  'broker_store_messages_bytes',
  'broker_heap_current',
  'broker_heap_maximum',
  'broker_load_messages_received_1min',
  'broker_load_messages_sent_1min',
  'broker_load_publish_dropped_1min',
  'broker_load_publish_received_1min',
  'broker_load_publish_sent_1min',
  'broker_load_bytes_received_1min',
  'broker_load_bytes_sent_1min',
  'broker_load_connections_1min',
  'broker_load_sockets_1min',
  // HAProxy 2.6 exporter
  'haproxy_frontend_current_sessions',
  'haproxy_frontend_sessions_total',
  'haproxy_frontend_bytes_in_total',
  'haproxy_frontend_bytes_out_total',
  'haproxy_frontend_denied_sessions_total',
  'haproxy_backend_status',
  'haproxy_backend_active_servers',
  'haproxy_backend_backup_servers',
  'haproxy_backend_current_sessions',
  'haproxy_backend_sessions_total',
  'haproxy_backend_bytes_in_total',
  'haproxy_backend_bytes_out_total',
  'haproxy_backend_connection_errors_total',
  'haproxy_backend_check_up_down_total',
  'haproxy_server_status',
  'haproxy_server_current_sessions',
  'haproxy_server_sessions_total',
  'haproxy_server_bytes_in_total',
  'haproxy_server_bytes_out_total',
  'haproxy_server_connection_errors_total',
  'haproxy_server_check_status',
  'haproxy_server_check_failures_total',
  'haproxy_server_check_up_down_total',
]);

/** PromQL words that look like identifiers but are not metric names. */
const PROMQL_WORDS = new Set([
  'by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'bool', 'offset', 'and', 'or', 'unless',
  'sum', 'min', 'max', 'avg', 'count', 'stddev', 'stdvar', 'topk', 'bottomk', 'quantile', 'count_values', 'group',
  'rate', 'irate', 'increase', 'delta', 'idelta', 'deriv', 'resets', 'changes', 'abs', 'ceil', 'floor', 'round', 'clamp_min', 'clamp_max',
  'avg_over_time', 'max_over_time', 'min_over_time', 'sum_over_time', 'count_over_time', 'last_over_time', 'time', 'timestamp', 'vector', 'scalar',
  'absent', 'label_replace', 'histogram_quantile', 'sort', 'sort_desc',
]);

/** Metric names in a PromQL expression: identifiers outside label matchers `{…}`, strings, ranges `[…]` and grouping `by (…)`. */
function metricNames(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, '{}')
    .replace(/\[[^\]]*\]/g, '[]')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, '$1()');
  const out: string[] = [];
  for (const m of stripped.matchAll(/\$?[A-Za-z_:][A-Za-z0-9_:]*/g)) {
    const word = m[0];
    if (word.startsWith('$')) continue; // Grafana variables ($__rate_interval, $host)
    if (PROMQL_WORDS.has(word)) continue;
    const after = stripped.slice(m.index + word.length).trimStart();
    if (after.startsWith('(') && !PROMQL_WORDS.has(word)) throw new Error(`unknown PromQL function ${word} in ${expr}`);
    out.push(word);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// A play context without connections

function facts(primaryAddress: string): HostFacts {
  return { ...ASSUMED_FACTS, hostname: 'h', fqdn: 'h', addresses: [primaryAddress], primaryAddress };
}

function context(inventory: Inventory, host: string, known: Map<string, HostFacts>, o: { check?: boolean } = {}): RoleContext<{ prometheus_scrape_config_dir?: string | undefined }> {
  const play = offlinePlayContext({
    name: 'Cluster membership',
    hosts: inventory.selectHosts('brokers'),
    inventory,
    facts: (h) => known.get(h),
    check: o.check ?? false,
    diff: true,
    projectDir: join(HERE, '..', '..', '..'),
  });
  const vars = validateHostVars(inventory.hosts.get(host)!, observability.vars, { inventoryFile: inventory.files[0]!, knownNames: new Set(['state', 'prometheus_cidr']) });
  return offlineRoleContext({ host, facts: known.get(host) ?? facts('192.0.2.1'), vars, play, phase: 'cluster', refusal: (what, h) => `the observability role must not ${what} on ${h}` });
}

async function clusterSteps(ctx: RoleContext<{ prometheus_scrape_config_dir?: string | undefined }>): Promise<Step[]> {
  const build = ctx.host.vars.state === 'absent' ? observability.absent?.cluster : observability.phases.cluster;
  return build!(ctx as never);
}

function changes(p: StepPlan) {
  if (!('changes' in p)) throw new Error(`expected changes, got skip: ${p.skip}`);
  return p.changes;
}

/** What the engine does with a plan: apply every change unless in check mode. */
async function runStep(step: Step, ctx: HostContext): Promise<StepPlan> {
  const plan = await step.plan(ctx, { get: () => { throw new Error('no facts declared'); } });
  if (!ctx.check) for (const c of changes(plan)) await c.apply?.(ctx);
  return plan;
}

// ---------------------------------------------------------------------------------------------------------------

let dir: string;
let inventory: Inventory;
const FACTS = new Map<string, HostFacts>([
  ['mq1', facts('10.10.0.21')],
  ['lb1', facts('10.10.0.11')],
]);

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'provision-observability-'));
  const file = join(dir, 'inventory.yml');
  writeFileSync(
    file,
    `all:
  vars:
    prometheus_cidr: [10.0.0.0/8]
  children:
    brokers:
      hosts:
        mq1:
          ansible_host: 203.0.113.21
        mq2:
          ansible_host: 203.0.113.22
          exporter_port: 9300
        mq3:
          ansible_host: 203.0.113.23
          state: absent
        mq4:
          exporter_bind_address: "0.0.0.0:9555"
    loadbalancers:
      hosts:
        lb1:
          ansible_host: 203.0.113.11
        lb2:
          ansible_host: 2001:db8::12
          haproxy_metrics_port: 9404
`,
  );
  inventory = await loadInventory([file]);
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('scrape targets', () => {
  it('lists active brokers and load balancers: facts address first, else ansible_host, else the inventory name; absent brokers left out', () => {
    const t = scrapeTargets(context(inventory, 'mq1', FACTS));
    expect(t.mosquitto).toEqual([
      { host: 'mq1', target: '10.10.0.21:9234' }, // facts win over ansible_host
      { host: 'mq2', target: '203.0.113.22:9300' }, // no facts: ansible_host, per-host exporter_port
      { host: 'mq4', target: 'mq4:9555' }, // no facts, no ansible_host: the name; wildcard bind keeps its port
    ]);
    expect(t.mosquitto.map((x) => x.host)).not.toContain('mq3');
    expect(t.haproxy).toEqual([
      { host: 'lb1', target: '10.10.0.11:8404' },
      { host: 'lb2', target: '[2001:db8::12]:9404' },
    ]);
  });

  it('renders a deterministic scrape_configs fragment with a host label per target', () => {
    const ctx = context(inventory, 'mq1', FACTS);
    const a = renderScrapeConfig(scrapeTargets(ctx));
    const b = renderScrapeConfig(scrapeTargets(context(inventory, 'mq2', new Map(FACTS))));
    expect(b).toBe(a);
    const doc = parseYaml(a) as { scrape_configs: { job_name: string; metrics_path: string; static_configs: { targets: string[]; labels: { host: string } }[] }[] };
    expect(Object.keys(doc)).toEqual(['scrape_configs']);
    expect(doc.scrape_configs.map((j) => j.job_name)).toEqual(['mosquitto', 'haproxy']);
    const [mosquitto, haproxy] = doc.scrape_configs;
    expect(mosquitto!.metrics_path).toBe('/metrics');
    expect(haproxy!.metrics_path).toBe('/metrics');
    expect(mosquitto!.static_configs).toEqual([
      { targets: ['10.10.0.21:9234'], labels: { host: 'mq1' } },
      { targets: ['203.0.113.22:9300'], labels: { host: 'mq2' } },
      { targets: ['mq4:9555'], labels: { host: 'mq4' } },
    ]);
    expect(haproxy!.static_configs).toEqual([
      { targets: ['10.10.0.11:8404'], labels: { host: 'lb1' } },
      { targets: ['[2001:db8::12]:9404'], labels: { host: 'lb2' } },
    ]);
    expect(a).not.toMatch(/\d{4}-\d{2}-\d{2}/); // no timestamps
    expect(a.endsWith('\n')).toBe(true);
  });

  it('renders empty jobs as valid YAML', () => {
    const doc = parseYaml(renderScrapeConfig({ mosquitto: [], haproxy: [] })) as { scrape_configs: { static_configs: unknown[] }[] };
    expect(doc.scrape_configs.map((j) => j.static_configs)).toEqual([[], []]);
  });

  it('puts the file in <inventory dir>/prometheus unless prometheus_scrape_config_dir says otherwise', () => {
    const ctx = context(inventory, 'mq1', FACTS);
    expect(scrapeConfigPath(ctx, undefined)).toBe(join(dir, 'prometheus', 'provision.yml'));
    expect(scrapeConfigPath(ctx, 'monitoring/prom')).toBe(join(dir, 'monitoring', 'prom', 'provision.yml'));
    expect(scrapeConfigPath(ctx, '/etc/prometheus/conf.d')).toBe('/etc/prometheus/conf.d/provision.yml');
  });
});

describe('observability role', () => {
  it('has one run-once cluster step, also for brokers being removed', async () => {
    expect(observability.name).toBe('observability');
    for (const host of ['mq1', 'mq3']) {
      const steps = await clusterSteps(context(inventory, host, FACTS));
      expect(steps.map((s) => [s.name, s.runOnce])).toEqual([[SCRAPE_STEP_NAME, true]]);
    }
    expect(Object.keys(observability.phases)).toEqual(['cluster']);
  });

  it('check mode reports the change with a diff and writes nothing; then writes once and is idempotent', async () => {
    const path = join(dir, 'prometheus', 'provision.yml');
    const checkCtx = context(inventory, 'mq1', FACTS, { check: true });
    const [step] = await clusterSteps(checkCtx);
    const checked = changes(await runStep(step!, checkCtx));
    expect(checked).toHaveLength(1);
    expect(checked[0]!.summary).toBe(`create ${path} on the controller (3 broker(s), 2 load balancer(s))`);
    expect(checked[0]!.diff).toContain(`+++ after: ${path}`);
    expect(checked[0]!.diff).toContain('+  - job_name: "mosquitto"');
    expect(checked[0]!.actions ?? []).toEqual([]);
    expect(existsSync(join(dir, 'prometheus'))).toBe(false);

    const ctx = context(inventory, 'mq1', FACTS);
    const [real] = await clusterSteps(ctx);
    const applied = changes(await runStep(real!, ctx));
    expect(applied).toHaveLength(1);
    expect(readFileSync(path, 'utf8')).toBe(renderScrapeConfig(scrapeTargets(ctx)));
    expect(readdirSync(join(dir, 'prometheus'))).toEqual(['provision.yml']); // no temp file left

    const again = await real!.plan(ctx, { get: () => undefined as never });
    expect(changes(again)).toEqual([]);
  });

  it('updates the file when the topology changes, with a diff of the target lines', async () => {
    const path = join(dir, 'prometheus', 'provision.yml');
    const ctx = context(inventory, 'mq1', FACTS);
    const [step] = await clusterSteps(ctx);
    await runStep(step!, ctx);

    const moved = new Map(FACTS).set('mq2', facts('10.10.0.22'));
    const ctx2 = context(inventory, 'mq1', moved, { check: true });
    const [step2] = await clusterSteps(ctx2);
    const [change] = changes(await runStep(step2!, ctx2));
    expect(change!.summary).toMatch(/^update /);
    expect(change!.diff).toContain('-      - targets: ["203.0.113.22:9300"]');
    expect(change!.diff).toContain('+      - targets: ["10.10.0.22:9300"]');
    expect(readFileSync(path, 'utf8')).toContain('203.0.113.22:9300'); // check mode: unchanged on disk
  });

  it('honours prometheus_scrape_config_dir', async () => {
    const ctx = context(inventory, 'mq1', FACTS);
    const step = (await observability.phases.cluster!({ ...ctx, vars: { ...ctx.vars, prometheus_scrape_config_dir: 'elsewhere' } } as never))[0]!;
    await runStep(step, ctx);
    expect(existsSync(join(dir, 'elsewhere', 'provision.yml'))).toBe(true);
  });

  it('is in the Cluster membership play of site.yaml', () => {
    const site = parseYaml(readFileSync(join(HERE, '..', '..', '..', 'playbooks', 'site.yaml'), 'utf8')) as { name: string; roles: string[] }[];
    expect(site.find((p) => p.name === 'Cluster membership')?.roles).toContain('observability');
  });
});

// ---------------------------------------------------------------------------------------------------------------

interface Panel {
  type: string;
  title?: string;
  datasource?: { type?: string; uid?: string };
  targets?: { expr?: string; datasource?: { uid?: string } }[];
  panels?: Panel[];
}

describe('Grafana dashboard', () => {
  const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as {
    __inputs: { name: string; type: string; pluginId: string }[];
    schemaVersion: number;
    uid: string;
    title: string;
    panels: Panel[];
    templating: { list: { name: string; query: unknown; datasource: { uid: string } }[] };
  };
  const panels = dashboard.panels.flatMap((p) => [p, ...(p.panels ?? [])]);
  const exprs = panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr ?? ''));

  it('parses, imports with a Prometheus datasource input, and has a host variable', () => {
    expect(dashboard.schemaVersion).toBeGreaterThanOrEqual(36);
    expect(dashboard.__inputs).toEqual([expect.objectContaining({ name: 'DS_PROMETHEUS', type: 'datasource', pluginId: 'prometheus' })]);
    const host = dashboard.templating.list.find((v) => v.name === 'host');
    expect(host?.datasource.uid).toBe('${DS_PROMETHEUS}');
    expect(JSON.stringify(host?.query)).toContain('label_values(broker_uptime{job=\\"mosquitto\\"}, host)');
    expect(new Set(panels.map((p) => (p as { id?: number }).id)).size).toBe(panels.length);
  });

  it('every panel has a title and the Prometheus datasource; every query too', () => {
    for (const p of panels) {
      expect(p.title, JSON.stringify(p).slice(0, 80)).toBeTruthy();
      expect(p.datasource, p.title).toEqual({ type: 'prometheus', uid: '${DS_PROMETHEUS}' });
      for (const t of p.targets ?? []) expect(t.datasource?.uid, p.title).toBe('${DS_PROMETHEUS}');
    }
  });

  it('has the expected panels', () => {
    const titles = panels.map((p) => p.title);
    for (const t of [
      'Clients connected per broker',
      'Messages received / sent rate',
      'Publish messages dropped rate',
      'Load, 1 minute',
      'Broker uptime',
      'Subscriptions',
      'Servers UP per backend',
      'Server status per broker',
      'Frontend current sessions',
      'Health-check failures rate',
    ])
      expect(titles).toContain(t);
    expect(exprs.some((e) => /^rate\(broker_messages_received\{[^}]*\}\[[^\]]+\]\)$/.test(e))).toBe(true);
    expect(exprs.some((e) => e.includes('haproxy_backend_backup_servers'))).toBe(true);
  });

  it('queries only metric names the exporters serve, from the jobs the scrape config defines', () => {
    expect(exprs.length).toBeGreaterThan(10);
    for (const e of exprs) {
      const names = metricNames(e);
      expect(names.length, e).toBeGreaterThan(0);
      for (const n of names) expect(KNOWN_METRICS.has(n), `${n} in ${e}`).toBe(true);
      expect(e, e).toMatch(/job="(mosquitto|haproxy)"/);
    }
  });

  it('the metric-name extractor sees through functions, matchers and ranges', () => {
    expect(metricNames('max by (host, server) (haproxy_server_status{job="haproxy", state="UP"})')).toEqual(['haproxy_server_status']);
    expect(metricNames('rate(broker_messages_sent{host=~"$host"}[$__rate_interval])')).toEqual(['broker_messages_sent']);
    expect(metricNames('broker_clients_connected')).toEqual(['broker_clients_connected']);
  });
});
