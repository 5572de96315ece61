import { dirname } from 'node:path';
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
import { shq } from '../../src/transport/shell-quote.js';
import { systemCredentials } from '../../src/cluster/credentials.js';
import { brokerVars, pick } from '../../src/cluster/variables.js';
import { exporterEndpoint } from '../../src/cluster/endpoints.js';
import { controllerBuild, resolveLocal } from '../../src/cluster/exporter-binary.js';
import { fileStampStore } from '../../src/cluster/file-stamps.js';
import { renderExporterEnv, renderExporterUnit, renderSysvScript } from './unit.js';

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
const HOST_BUILD_REF = '/usr/local/lib/provision/exporter.ref';

/**
 * exporter_source: host-build. The build (fetched sources, go build) runs as the unprivileged build user in a
 * build dir it owns; only the final install of the finished binary runs as root. The build script runs as its
 * own `sh -c` so its multi-line text never meets the shell syntax around it; its last stdout line is the binary.
 */
export function hostBuildScript(o: { repoUrl: string; ref: string; version: string; buildUser: string }): string {
  const build = exporterBuildScriptForHost({ repoUrl: o.repoUrl, ref: o.ref, version: o.version, workDir: HOST_BUILD_DIR, buildUser: o.buildUser });
  return `set -e
out=$(sh -c ${shq(build)})
bin=$(printf '%s\\n' "$out" | tail -n 1)
case "$bin" in ${HOST_BUILD_DIR}/bin/*) ;; *) echo "exporter build printed no binary path" >&2; exit 1;; esac
install -o root -g root -m 0755 "$bin" ${BINARY}
mkdir -p ${dirname(HOST_BUILD_REF)}
printf '%s' ${shq(o.ref)} > ${HOST_BUILD_REF}`;
}
const GO_PACKAGES = ['golang-go', 'golang-github-eclipse-paho.mqtt.golang-dev', 'golang-github-prometheus-client-golang-dev', 'golang-github-urfave-cli-dev', 'git'];

const vars = z.object({ ...brokerVars, ...pick('exporter_source', 'exporter_repo_url', 'exporter_ref', 'exporter_version', 'exporter_binary', 'exporter_build_cache', 'exporter_bind_address', 'exporter_system_user', 'exporter_build_user') });

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
          user({ name: v.exporter_build_user, system: true, shell: '/usr/sbin/nologin', home: HOST_BUILD_DIR, createHome: false }),
          packages({ name: 'Go toolchain for the exporter build', names: GO_PACKAGES }),
          command({
            name: `build the exporter on the host at ${v.exporter_ref} (as ${v.exporter_build_user})`,
            unless: `test -x ${BINARY} && test "$(cat ${HOST_BUILD_REF} 2>/dev/null)" = ${shq(v.exporter_ref)}`,
            script: hostBuildScript({ repoUrl: v.exporter_repo_url, ref: v.exporter_ref, version: v.exporter_version, buildUser: v.exporter_build_user }),
            timeoutMs: 30 * 60_000,
            notify: ['restart exporter'],
          }),
        );
        return steps;
      }
      if (ctx.play.listOnly) return [...steps, copy({ name: 'exporter binary', src: '/dev/null', dest: BINARY, owner: 'root', group: 'root', mode: '0755' })];
      // The build knows its binary's digest: a host that has it costs no read and hash of 10 MB per host.
      const { src, srcSha256 } =
        v.exporter_source === 'binary'
          ? { src: resolveLocal(ctx, v.exporter_binary ?? ''), srcSha256: undefined }
          : await controllerBuild(ctx, { repoUrl: v.exporter_repo_url, ref: v.exporter_ref, version: v.exporter_version, cacheDir: v.exporter_build_cache }).then((b) => ({ src: b.binaryPath, srcSha256: b.sha256 }));
      // The host's copy is hashed only when its stat stamp differs from the one remembered for it: no 10 MB sha256 per no-op.
      const stamps = fileStampStore(ctx, BINARY);
      steps.push(copy({ name: 'exporter binary', src, srcSha256, stamps, dest: BINARY, owner: 'root', group: 'root', mode: '0755', notify: ['restart exporter'] }));
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
        // backup: it names the broker's local port, so a broker restart that is rolled back restores it too.
        file({ name: 'exporter credentials (environment file)', path: ENV_FILE, content: env, owner: 'root', group: 'root', mode: '0600', sensitive: true, backup: true, notify: ['restart exporter'] }),
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
