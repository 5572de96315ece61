import { homedir } from 'node:os';
import { isAbsolute, join } from 'node:path';
import type { HostContext } from '../engine/types.js';
import { buildExporterOnController, type ExporterBuildResult } from '../exporter/controller-build.js';
import { ControllerError } from '../errors.js';

const builds = new Map<string, Promise<ExporterBuildResult>>();

/** One controller build per (repository, ref, arch) per run, shared by every host. */
export function controllerBuild(ctx: HostContext, o: { repoUrl: string; ref: string; version: string; cacheDir?: string | undefined }): Promise<ExporterBuildResult> {
  const goarch = ctx.facts.arch === 'aarch64' ? 'arm64' : 'amd64';
  const key = `${o.repoUrl}#${o.ref}#${goarch}`;
  let p = builds.get(key);
  if (!p) {
    p = buildExporterOnController({
      repoUrl: o.repoUrl,
      ref: o.ref,
      version: o.version,
      goarch,
      cacheDir: o.cacheDir ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'provision', 'exporter'),
      onProgress: (line) => ctx.progress(`exporter build: ${line}`),
    }).catch((err: unknown) => {
      // One build for every host: its failure is the controller's, reported once (see engine/step-runner.ts).
      throw new ControllerError('exporter build', err);
    });
    builds.set(key, p);
  }
  return p;
}

export function resolveLocal(ctx: HostContext, path: string): string {
  return isAbsolute(path) ? path : join(ctx.play.inventory.baseDir, path);
}
