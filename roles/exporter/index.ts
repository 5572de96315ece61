import { z } from 'zod';
import { defineRole, type FactQuery, type Step } from '../../src/engine/types.js';
import { StepError } from '../../src/errors.js';
import { exporterBuildScriptForHost } from '../../src/exporter/controller-build.js';
import { exporterShowsUptime } from '../../src/health/http-metrics.js';
import { waitUntil } from '../../src/health/broker-health.js';
import { command } from '../../src/operations/command.js';
import { copy, directory, file } from '../../src/operations/file.js';
import { packages } from '../../src/operations/package.js';
import { service, systemdUnit } from '../../src/operations/service.js';
import { user } from '../../src/operations/user.js';
import { systemCredentials } from '../mosquitto_config/credentials.js';
import { brokerVars } from '../mosquitto_config/vars.js';
import { exporterEndpoint } from '../observability/scrape-config.js';
import { controllerBuild, resolveLocal } from './binary.js';
import { renderExporterEnv, renderExporterUnit, renderSysvScript } from './unit.js';
import { zOneLine } from '../../src/inventory/schema.js';

const BINARY = '/usr/local/bin/mosquitto_exporter';
const ENV_FILE = '/etc/mosquitto-exporter/env';
/** 'stopped', 'current' (started after its binary, environment and unit last changed) or 'stale'. */
const exporterState: FactQuery<'stopped' | 'current' | 'stale'> = {
  key: 'exporter:state',
  script: `systemctl is-active --quiet mosquitto-exporter 2>/dev/null || /etc/init.d/mosquitto-exporter status >/dev/null 2>&1 || { echo stopped; exit 0; }
started=$(date -d "$(systemctl show mosquitto-exporter -p ActiveEnterTimestamp --value 2>/dev/null)" +%s 2>/dev/null || echo 0)
newest=$(stat -c %Y ${BINARY} ${ENV_FILE} /etc/systemd/system/mosquitto-exporter.service 2>/dev/null | sort -n | tail -n 1)
if [ "$started" -gt 0 ] && [ -n "$newest" ] && [ "$newest" -le "$started" ]; then echo current; else echo stale; fi`,
  parse: (out) => (out.trim() === 'stopped' ? 'stopped' : out.trim() === 'current' ? 'current' : 'stale'),
};
const HOST_BUILD_DIR = '/var/cache/provision/exporter-build';
const GO_PACKAGES = ['golang-go', 'golang-github-eclipse-paho.mqtt.golang-dev', 'golang-github-prometheus-client-golang-dev', 'golang-github-urfave-cli-dev', 'git'];

const vars = z.object({
  ...brokerVars,
  exporter_source: z.enum(['controller-build', 'binary', 'host-build']).default('controller-build'),
  exporter_repo_url: z.string().min(1).default('https://github.com/sapcc/mosquitto-exporter.git'),
  exporter_ref: z.string().min(1).default('v0.8.0'),
  exporter_version: z.string().min(1).default('0.8.0'),
  exporter_binary: z.string().min(1).optional(),
  exporter_build_cache: z.string().min(1).optional(),
  exporter_bind_address: zOneLine.pipe(z.string().min(1)).optional(),
  exporter_system_user: z.string().min(1).default('exporter'),
});

export default defineRole({
  name: 'exporter',
  description: 'sapcc/mosquitto-exporter: built on the controller at a pinned ref (or given, or built on the host), run as a no-login user.',
  vars,
  phases: {
    build: async (ctx) => {
      const v = ctx.vars;
      const steps: Step[] = [user({ name: v.exporter_system_user, system: true, shell: '/usr/sbin/nologin', home: '/nonexistent', createHome: false })];
      if (v.exporter_source === 'host-build') {
        if (ctx.facts.os.family !== 'debian')
          throw new StepError(`exporter_source: host-build uses Debian's Go packages and works on Debian hosts only; on ${ctx.facts.os.pretty} use controller-build (the default) or binary`);
        steps.push(
          packages({ name: 'Go toolchain for the exporter build', names: GO_PACKAGES }),
          command({
            name: `build the exporter on the host at ${v.exporter_ref}`,
            unless: `test -x ${BINARY} && test "$(cat /usr/local/lib/provision/exporter.ref 2>/dev/null)" = ${JSON.stringify(v.exporter_ref)}`,
            script: `set -e; bin=$(${exporterBuildScriptForHost({ repoUrl: v.exporter_repo_url, ref: v.exporter_ref, version: v.exporter_version, workDir: HOST_BUILD_DIR }).replace(/\n/g, '\n')} | tail -n 1); install -m 0755 "$bin" ${BINARY}; mkdir -p /usr/local/lib/provision; printf '%s' ${JSON.stringify(v.exporter_ref)} > /usr/local/lib/provision/exporter.ref`,
            notify: ['restart exporter'],
          }),
        );
        return steps;
      }
      if (ctx.play.listOnly) return [...steps, copy({ name: 'exporter binary', src: '/dev/null', dest: BINARY, owner: 'root', group: 'root', mode: '0755' })];
      const src =
        v.exporter_source === 'binary'
          ? resolveLocal(ctx, v.exporter_binary ?? '')
          : (await controllerBuild(ctx, { repoUrl: v.exporter_repo_url, ref: v.exporter_ref, version: v.exporter_version, cacheDir: v.exporter_build_cache })).binaryPath;
      steps.push(copy({ name: 'exporter binary', src, dest: BINARY, owner: 'root', group: 'root', mode: '0755', notify: ['restart exporter'] }));
      return steps;
    },
    configure: (ctx) => {
      const v = ctx.vars;
      const creds = systemCredentials(ctx, v).exporter;
      const bind = v.exporter_bind_address ?? `${ctx.facts.primaryAddress}:${v.exporter_port}`;
      const env = renderExporterEnv({ endpoint: `tcp://127.0.0.1:${v.mqtt_local_port}`, bind, user: creds.username, password: creds.password.reveal(), clientId: `exporter-${ctx.name}` });
      const unit = { binary: BINARY, envFile: ENV_FILE, user: v.exporter_system_user };
      return [
        directory({ path: '/etc/mosquitto-exporter', owner: 'root', group: 'root', mode: '0755' }),
        file({ name: 'exporter credentials (environment file)', path: ENV_FILE, content: env, owner: 'root', group: 'root', mode: '0600', sensitive: true, notify: ['restart exporter'] }),
        ctx.facts.init === 'systemd'
          ? systemdUnit({ name: 'mosquitto-exporter.service', content: renderExporterUnit(unit), notify: ['restart exporter'] })
          : file({ name: 'exporter init script', path: '/etc/init.d/mosquitto-exporter', content: renderSysvScript(unit), owner: 'root', group: 'root', mode: '0755', notify: ['restart exporter'] }),
      ];
    },
    runtime: (ctx) => {
      const { address, port } = exporterEndpoint(ctx.facts.primaryAddress, ctx.vars);
      const start = service({ name: 'mosquitto-exporter', enabled: true, state: 'started' });
      return [{ ...start, verify: () => waitUntil(() => exporterShowsUptime(ctx.transport, address, Number(port)), 30_000, 500) }];
    },
  },
  handlers: {
    'restart exporter': {
      // After the runtime phase: mqtt_auth must first give the broker the exporter's (new) password.
      runAt: 'runtime',
      steps: (ctx) => {
        const { address, port } = exporterEndpoint(ctx.facts.primaryAddress, ctx.vars);
        return [
          {
            name: 'restart the exporter if it runs an older binary or configuration',
            facts: [exporterState],
            plan: (_c, facts) => {
              const state = facts.get(exporterState);
              if (state === 'stopped') return { skip: 'not running yet' };
              if (state === 'current') return { changes: [], message: 'already started on the current binary and configuration' };
              return { changes: [{ summary: 'restart mosquitto-exporter', actions: [{ script: 'systemctl restart mosquitto-exporter 2>/dev/null || /etc/init.d/mosquitto-exporter restart' }] }] };
            },
            verify: () => waitUntil(() => exporterShowsUptime(ctx.transport, address, Number(port)), 30_000, 500),
          },
        ];
      },
    },
  },
});
