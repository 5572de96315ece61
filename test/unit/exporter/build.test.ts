import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { exporterMetricsCurrent, metricValue } from '../../../src/health/http-metrics.js';
import { existsSync } from 'node:fs';
import { chmod, chown, mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { createServer, connect } from 'node:net';
import { homedir, tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  buildExporterOnController,
  ExporterBuildError,
  exporterBuildScriptForHost,
  sha256File,
  type ExporterBuildResult,
} from '../../../src/exporter/controller-build.js';
import { makeExporterGitRepo } from '../../support/exporter-fixture.js';

const execFileP = promisify(execFile);
const MOSQUITTO = '/usr/sbin/mosquitto';
const hasMosquitto = existsSync(MOSQUITTO);
const isRoot = process.getuid?.() === 0;
if (!hasMosquitto) {
  console.warn(`[exporter-build] ${MOSQUITTO} is missing: skipping the live metrics test (apt-get install mosquitto to run it)`);
}

let root = '';
let repo: { url: string; ref: string };
let cacheDir = '';
const children = new Set<ChildProcess>();
let firstBuild: Promise<ExporterBuildResult> | undefined;

/** The first (uncached) amd64 build, shared by the tests that need a binary. */
function build(): Promise<ExporterBuildResult> {
  firstBuild ??= buildExporterOnController({ repoUrl: repo.url, ref: repo.ref, cacheDir, goarch: 'amd64' });
  return firstBuild;
}

async function assertStatic(path: string, machine: RegExp): Promise<string> {
  const { stdout: elf } = await execFileP('readelf', ['-lh', path]);
  expect(elf).not.toMatch(/INTERP|Requesting program interpreter/);
  expect(elf).toMatch(machine);
  const { stdout: desc } = await execFileP('file', ['-b', path]).catch(() => ({ stdout: 'statically linked (file(1) missing)' }));
  expect(desc).toMatch(/statically linked/);
  return desc.trim();
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

async function until<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastErr: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (err) {
      lastErr = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${lastErr ? `: ${String(lastErr)}` : ''}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/** Starts a process we own; its output is collected; it is killed by PID in afterAll if still running. */
function start(cmd: string, args: string[], env?: NodeJS.ProcessEnv): { proc: ChildProcess; output: () => string } {
  let out = '';
  const proc = spawn(cmd, args, { env: env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
  proc.stdout?.setEncoding('utf8').on('data', (c: string) => (out += c));
  proc.stderr?.setEncoding('utf8').on('data', (c: string) => (out += c));
  children.add(proc);
  proc.on('exit', () => children.delete(proc));
  return { proc, output: () => out };
}

async function stop(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null || proc.pid === undefined) return;
  const exited = new Promise((r) => proc.once('exit', r));
  process.kill(proc.pid, 'SIGTERM');
  await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
  if (proc.exitCode === null && proc.signalCode === null) process.kill(proc.pid, 'SIGKILL');
}

function metric(text: string, name: string): number | undefined {
  const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : undefined;
}

function runScript(script: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn('sh', ['-s'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    p.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    p.on('close', (code) => resolve({ code, stdout, stderr }));
    p.stdin.end(script);
  });
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'provision-exporter-'));
  cacheDir = join(root, 'cache');
  repo = await makeExporterGitRepo(join(root, 'repo'));
  // The first, uncached build (a cold Go cache: the standard library is compiled too, for -trimpath) takes
  // 50 s on an idle 2-core machine and several minutes on a loaded one; the tests' own timeouts exclude it.
  await build();
}, 900_000);

afterAll(async () => {
  for (const c of [...children]) await stop(c);
  await firstBuild?.catch(() => undefined); // never delete the cache under a running go build
  if (root) await rm(root, { recursive: true, force: true });
}, 60_000);

describe('exporter fixture repository', () => {
  it('is idempotent and has a stable commit', async () => {
    const dir = join(root, 'repo');
    const { stdout: before } = await execFileP('git', ['-C', dir, 'rev-parse', 'v0.8.0^{commit}']);
    const again = await makeExporterGitRepo(dir);
    expect(again).toEqual(repo);
    const other = await makeExporterGitRepo(join(root, 'repo-copy'));
    const { stdout: after } = await execFileP('git', ['-C', dir, 'rev-parse', 'v0.8.0^{commit}']);
    const { stdout: copy } = await execFileP('git', ['-C', join(root, 'repo-copy'), 'rev-parse', 'v0.8.0^{commit}']);
    expect(after).toBe(before);
    expect(copy).toBe(before);
    expect(repo.url).toMatch(/^file:\/\//);
    expect(other.ref).toBe('v0.8.0');
  });
});

describe('buildExporterOnController', () => {
  it('builds a static binary from the pinned tag and records the commit', async () => {
    const r = await build();
    const { stdout: tagCommit } = await execFileP('git', ['-C', join(root, 'repo'), 'rev-parse', 'v0.8.0^{commit}']);
    expect(r.cached).toBe(false);
    expect(r.commit).toBe(tagCommit.trim());
    expect(basename(r.binaryPath)).toBe(`mosquitto_exporter-${r.commit}-amd64`);
    expect(r.binaryPath.startsWith(join(cacheDir, 'bin'))).toBe(true);
    expect(r.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(await sha256File(r.binaryPath)).toBe(r.sha256);
    const desc = await assertStatic(r.binaryPath, /X86-64|x86-64/);
    const { stdout: version } = await execFileP(r.binaryPath, ['--version']);
    expect(version).toContain('0.8.0');
    expect(version).toContain(r.commit.slice(0, 7));
    const size = (await stat(r.binaryPath)).size;
    console.info(`[exporter-build] amd64 build: ${r.seconds} s, ${(size / 1e6).toFixed(1)} MB, ${desc}`);
    // The build happened inside cacheDir (source, GOPATH, Go cache), never in a shared temp dir.
    expect((await readdir(cacheDir)).sort()).toEqual(expect.arrayContaining(['bin', 'gocache', 'gopath', 'src']));
  }, 120_000);

  it('returns the cached binary for the same commit and arch without rebuilding', async () => {
    const first = await build();
    const t0 = Date.now();
    const again = await buildExporterOnController({ repoUrl: repo.url, ref: repo.ref, cacheDir, goarch: 'amd64' });
    expect(again.cached).toBe(true);
    expect(again.binaryPath).toBe(first.binaryPath);
    expect(again.sha256).toBe(first.sha256);
    expect(again.commit).toBe(first.commit);
    expect(Date.now() - t0).toBeLessThan(5000);
    // A full commit hash is an equally good pin and hits the same cache entry.
    const byHash = await buildExporterOnController({ repoUrl: repo.url, ref: first.commit, cacheDir, version: '0.8.0' });
    expect(byHash.cached).toBe(true);
    expect(byHash.sha256).toBe(first.sha256);
  }, 120_000);

  it('takes over a build lock whose PID now belongs to another process (a reused PID, a restored machine image)', async () => {
    await build();
    // PID 1 is alive, but it did not start at "0:0": the lock is someone else's leftover, not a live build.
    await mkdir(join(cacheDir, '.lock'));
    await writeFile(join(cacheDir, '.lock', 'pid'), '1 0:0');
    const lines: string[] = [];
    const again = await buildExporterOnController({ repoUrl: repo.url, ref: repo.ref, cacheDir, goarch: 'amd64', onProgress: (l) => lines.push(l) });
    expect(again.cached).toBe(true);
    expect(lines.filter((l) => l.startsWith('waiting for another exporter build'))).toEqual([]);
    expect(existsSync(join(cacheDir, '.lock'))).toBe(false);
  }, 60_000);

  it('rejects a ref that does not exist with an ExporterBuildError naming the ref', async () => {
    await build(); // share the clone; the error must come from ref resolution, not a race on the cache lock
    const err = await buildExporterOnController({ repoUrl: repo.url, ref: 'v9.9.9-missing', cacheDir }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ExporterBuildError);
    const e = err as ExporterBuildError;
    expect(e.message).toContain('v9.9.9-missing');
    expect(e.command).toContain('rev-parse');
    expect(e.exitCode).not.toBe(0);
    // Option-like or revision-syntax refs never reach git.
    await expect(buildExporterOnController({ repoUrl: repo.url, ref: '--upload-pack=touch x', cacheDir })).rejects.toThrow(ExporterBuildError);
    await expect(buildExporterOnController({ repoUrl: repo.url, ref: 'v0.8.0..HEAD', cacheDir })).rejects.toThrow(/invalid ref/);
  }, 120_000);

  it('names the failing command, exit code and stderr when the repository cannot be cloned', async () => {
    const err = await buildExporterOnController({ repoUrl: `file://${join(root, 'no-such-repo')}`, ref: 'v0.8.0', cacheDir: join(root, 'cache-bad') }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ExporterBuildError);
    const e = err as ExporterBuildError;
    expect(e.command).toMatch(/^git clone/);
    expect(e.exitCode).toBe(128);
    expect(e.stderrTail).toMatch(/no-such-repo/);
  }, 60_000);

  it('rebuilds (from the warm Go cache) when the cached binary embeds another version', async () => {
    const first = await build();
    const r = await buildExporterOnController({ repoUrl: repo.url, ref: repo.ref, cacheDir, version: '0.8.0-rc1' });
    expect(r.cached).toBe(false);
    expect(r.binaryPath).toBe(first.binaryPath);
    expect((await execFileP(r.binaryPath, ['--version'])).stdout).toContain('0.8.0-rc1');
    const back = await buildExporterOnController({ repoUrl: repo.url, ref: repo.ref, cacheDir });
    expect(back.cached).toBe(false);
    expect(back.sha256).toBe(first.sha256); // reproducible: same inputs, same bytes
    console.info(`[exporter-build] warm-cache rebuilds: ${r.seconds} s, ${back.seconds} s`);
  }, 300_000);

  it('refuses a world-writable cache dir', async () => {
    const shared = join(root, 'shared');
    await mkdir(shared);
    await chmod(shared, 0o1777);
    await expect(buildExporterOnController({ repoUrl: repo.url, ref: repo.ref, cacheDir: shared })).rejects.toThrow(/writable/);
  });

  // A second cold build (the arm64 standard library): opt in with EXPORTER_TEST_ARM64=1.
  it.skipIf(!process.env.EXPORTER_TEST_ARM64)('cross-builds a static arm64 binary (EXPORTER_TEST_ARM64=1)', async () => {
    await build();
    const r = await buildExporterOnController({ repoUrl: repo.url, ref: repo.ref, cacheDir, goarch: 'arm64' });
    expect(r.cached).toBe(false);
    expect(r.binaryPath.endsWith('-arm64')).toBe(true);
    await assertStatic(r.binaryPath, /AArch64/);
    console.info(`[exporter-build] arm64 cross-build: ${r.seconds} s, ${((await stat(r.binaryPath)).size / 1e6).toFixed(1)} MB`);
  }, 900_000);
});

describe.skipIf(!hasMosquitto)(`exporter binary against a local mosquitto (needs ${MOSQUITTO})`, () => {
  it('serves $SYS metrics, takes credentials from the environment, counts published messages, survives a broker restart', async () => {
    const { binaryPath } = await build();
    const mqttPort = await freePort();
    const httpPort = await freePort();
    const conf = join(root, 'mosquitto.conf');
    await writeFile(
      conf,
      [
        `listener ${mqttPort} 127.0.0.1`,
        'allow_anonymous true',
        'sys_interval 1',
        'persistence false',
        'log_dest stderr', // unbuffered (stdout to a pipe is block-buffered)
        'log_type error',
        'log_type warning',
        'log_type notice',
        'log_type information',
        'connection_messages true',
        '',
      ].join('\n'),
    );
    let broker = start(MOSQUITTO, ['-c', conf]);
    await until('mosquitto to listen', 10_000, async () => ((await portOpen(mqttPort)) ? true : undefined));

    const env: NodeJS.ProcessEnv = { ...process.env, MQTT_USER: 'exporter-test', MQTT_PASS: 'not-a-flag-secret' };
    delete env.BIND_ADDRESS;
    delete env.BROKER_ENDPOINT;
    const exporter = start(binaryPath, ['--endpoint', `tcp://127.0.0.1:${mqttPort}`, '--bind-address', `127.0.0.1:${httpPort}`], env);
    const url = `http://127.0.0.1:${httpPort}/metrics`;
    const scrape = async (): Promise<string> => (await fetch(url)).text();

    const first = await until('broker_uptime and broker_clients_connected on /metrics', 30_000, async () => {
      const t = await scrape();
      // $SYS values are retained: the first ones may predate the exporter's own connection, so wait for it to count.
      return metric(t, 'broker_uptime') !== undefined && (metric(t, 'broker_clients_connected') ?? 0) >= 1 ? t : undefined;
    });
    expect(first).toMatch(/^# TYPE broker_uptime counter$/m);
    expect(first).toMatch(/^# TYPE broker_clients_connected gauge$/m);
    expect(first).toMatch(/^# TYPE broker_messages_received counter$/m);
    expect(first).toMatch(/^broker_load_messages_received_1min /m);
    expect(first).not.toMatch(/^broker_version/m);
    // The username came from MQTT_USER (mosquitto logs it; the password never shows up on a command line).
    expect(broker.output()).toContain("u'exporter-test'");
    expect(exporter.proc.spawnargs.join(' ')).not.toContain('not-a-flag-secret');

    const before = metric(first, 'broker_publish_messages_received') ?? 0;
    const beforeAll = metric(first, 'broker_messages_received') ?? 0;
    await execFileP('mosquitto_pub', ['-h', '127.0.0.1', '-p', String(mqttPort), '-t', 'provision/test', '-m', 'hello', '-q', '1', '--repeat', '20']);
    const after = await until('broker_publish_messages_received to grow by 20', 20_000, async () => {
      const t = await scrape();
      return (metric(t, 'broker_publish_messages_received') ?? 0) >= before + 20 ? t : undefined;
    });
    expect(metric(after, 'broker_messages_received')).toBeGreaterThan(beforeAll);

    // Restart the broker on the same port: the exporter reconnects and re-subscribes on its own.
    await stop(broker.proc);
    broker = start(MOSQUITTO, ['-c', conf]);
    await until('the exporter to reconnect to the restarted broker', 45_000, async () => (broker.output().includes("u'exporter-test'") ? true : undefined));
    const restarted = await until('fresh $SYS values after the restart', 20_000, async () => {
      const t = await scrape();
      const fresh = (metric(t, 'broker_publish_messages_received') ?? 0) < before + 20; // counters reset with the broker
      return fresh && (metric(t, 'broker_clients_connected') ?? 0) >= 1 ? t : undefined;
    });
    expect(metric(restarted, 'broker_uptime')).toBeDefined();

    await stop(exporter.proc);
    await stop(broker.proc);
  }, 120_000);

  it('verify\'s freshness check: current while the broker runs; stale once the exporter lost it (it keeps serving the last values)', async () => {
    const { binaryPath } = await build();
    const mqttPort = await freePort();
    const httpPort = await freePort();
    const conf = join(root, 'mosquitto-fresh.conf');
    await writeFile(conf, [`listener ${mqttPort} 127.0.0.1`, 'allow_anonymous true', 'sys_interval 1', 'persistence false', ''].join('\n'));
    const broker = start(MOSQUITTO, ['-c', conf]);
    await until('mosquitto to listen', 10_000, async () => ((await portOpen(mqttPort)) ? true : undefined));
    const exporter = start(binaryPath, ['--endpoint', `tcp://127.0.0.1:${mqttPort}`, '--bind-address', `127.0.0.1:${httpPort}`]);
    const uptime = async (): Promise<number> => {
      const v = metricValue(await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text(), 'broker_uptime');
      if (v === undefined) throw new Error('no broker_uptime');
      return v;
    };
    await until('broker_uptime on /metrics', 30_000, async () => uptime().catch(() => undefined));
    await expect(exporterMetricsCurrent(uptime, { withinMs: 5000, everyMs: 250 })).resolves.toMatch(/^broker_uptime \d+ → \d+ s$/);
    // The broker goes away; the exporter still answers on /metrics, with the values it had.
    await stop(broker.proc);
    expect(await uptime()).toBeGreaterThan(0);
    await expect(exporterMetricsCurrent(uptime, { withinMs: 3000, everyMs: 250 })).rejects.toThrow(/^stale metrics: broker_uptime stayed at \d+ s for 3 s/);
    await stop(exporter.proc);
  }, 120_000);
});

describe('exporterBuildScriptForHost', () => {
  it('is valid POSIX sh and refuses a shared temporary work dir', async () => {
    const script = exporterBuildScriptForHost({ repoUrl: repo.url, ref: 'v0.8.0', version: '0.8.0', workDir: '/tmp/mosquitto-exporter' });
    await execFileP('dash', ['-n', '-c', script]);
    const r = await runScript(script);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('refusing shared temporary directory');
    expect(() => exporterBuildScriptForHost({ repoUrl: repo.url, ref: '$(reboot)', version: '0.8.0', workDir: '/srv/x' })).toThrow(ExporterBuildError);
  });

  it('builds the same pinned commit on the host, as an unprivileged build user, and reuses it', async () => {
    const controller = await build();
    // A persistent, private build dir that is not a shared temp dir (as on a real host, e.g. /var/cache/provision).
    const parent = isRoot ? '/var/cache' : join(homedir(), '.cache');
    await mkdir(parent, { recursive: true });
    const base = await mkdtemp(join(parent, 'provision-exporter-test-'));
    try {
      await chmod(base, 0o755);
      const hostRepo = await makeExporterGitRepo(join(base, 'repo'));
      const buildUser = isRoot ? 'nobody' : undefined;
      if (isRoot) {
        // The build user must own the repo it clones from (git's safe.directory check); a real host clones over https.
        const { stdout } = await execFileP('id', ['-u', 'nobody']);
        const uid = Number(stdout.trim());
        const walk = async (p: string): Promise<void> => {
          await chown(p, uid, uid);
          if ((await stat(p)).isDirectory()) for (const n of await readdir(p)) await walk(join(p, n));
        };
        await walk(join(base, 'repo'));
      }
      const workDir = join(base, 'work');
      const bad = await runScript(exporterBuildScriptForHost({ repoUrl: hostRepo.url, ref: 'v9.9.9-missing', version: '9.9.9', workDir, buildUser }));
      expect(bad.code).toBe(4);
      expect(bad.stderr).toContain('ref v9.9.9-missing does not resolve');
      const script = exporterBuildScriptForHost({ repoUrl: hostRepo.url, ref: 'v0.8.0', version: '0.8.0', workDir, buildUser });
      const t0 = Date.now();
      const r = await runScript(script);
      const seconds = (Date.now() - t0) / 1000;
      expect(r.code, r.stderr).toBe(0);
      const out = r.stdout.trim().split('\n').pop() ?? '';
      expect(out).toBe(join(workDir, 'bin', `mosquitto_exporter-${controller.commit}-amd64`));
      await assertStatic(out, /X86-64|x86-64/);
      if (isRoot) expect((await stat(out)).uid).not.toBe(0);
      console.info(`[exporter-build] host script build: ${seconds} s`);
      // Same Go, same flags, -trimpath: the host build is bit-for-bit the controller build (verifiable by sha256).
      expect(await sha256File(out)).toBe(controller.sha256);

      const again = await runScript(script);
      expect(again.code, again.stderr).toBe(0);
      expect(again.stdout.trim().split('\n').pop()).toBe(out);
      expect(again.stderr).toContain('already built');
    } finally {
      await rm(base, { recursive: true, force: true });
    }
  }, 900_000);
});
