// One cgroup per host: several systemd-nspawn instances sharing a cgroup collide (PID 1 of this
// machine is not systemd, so nothing hands out units/scopes; nspawn runs with --keep-unit).
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';
import { CGROUP_SUBDIR } from './paths.js';

const CG = '/sys/fs/cgroup';

/** Roots of the hierarchies nspawn cares about: named systemd v1 + unified (hybrid), or pure v2. */
export function cgroupHierarchies(): string[] {
  if (existsSync(join(CG, 'cgroup.controllers'))) return [CG];
  const out: string[] = [];
  if (existsSync(join(CG, 'systemd', 'cgroup.procs'))) out.push(join(CG, 'systemd'));
  if (existsSync(join(CG, 'unified', 'cgroup.procs'))) out.push(join(CG, 'unified'));
  return out;
}

export function hostCgroupDirs(sandbox: string, host: string): string[] {
  return cgroupHierarchies().map((h) => join(h, CGROUP_SUBDIR, sandbox, host));
}

export function ensureHostCgroups(sandbox: string, host: string): string[] {
  const dirs = hostCgroupDirs(sandbox, host);
  for (const d of dirs) mkdirSync(d, { recursive: true });
  return dirs;
}

function subdirs(dir: string): string[] {
  try {
    return readdirSync(dir, { withFileTypes: true })
      .filter((e) => e.isDirectory())
      .map((e) => join(dir, e.name));
  } catch {
    return [];
  }
}

/** Every PID in the host's cgroup subtree (first hierarchy that has it). */
export function hostCgroupPids(sandbox: string, host: string): number[] {
  const pids = new Set<number>();
  const walk = (d: string) => {
    try {
      for (const l of readFileSync(join(d, 'cgroup.procs'), 'utf8').split('\n')) {
        const n = Number(l);
        if (n > 0) pids.add(n);
      }
    } catch {
      return;
    }
    for (const s of subdirs(d)) walk(s);
  };
  for (const d of hostCgroupDirs(sandbox, host)) walk(d);
  return [...pids];
}

/** Removes the (empty) cgroup subtree of a host, deepest first; leaves busy groups in place. */
export function removeHostCgroups(sandbox: string, host: string): void {
  const rm = (d: string) => {
    for (const s of subdirs(d)) rm(s);
    try {
      rmdirSync(d);
    } catch {
      /* busy or gone */
    }
  };
  for (const d of hostCgroupDirs(sandbox, host)) rm(d);
}

/** Removes a sandbox's cgroup directory (the shared provision-sandbox parent stays). */
export function removeSandboxCgroups(sandbox: string): void {
  for (const h of cgroupHierarchies()) {
    const sb = join(h, CGROUP_SUBDIR, sandbox);
    const rm = (d: string) => {
      for (const s of subdirs(d)) rm(s);
      try {
        rmdirSync(d);
      } catch {
        /* busy or gone */
      }
    };
    rm(sb);
  }
}
