import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Node as YamlNode, type YAMLMap } from 'yaml';
import { InputError } from '../errors.js';
import { projectDir, runningCompiled } from './project.js';
import type { Role } from './types.js';

export interface PlayRole {
  role: Role;
  tags: string[];
}

export interface Play {
  name: string;
  hosts: string;
  roles: PlayRole[];
  /** Batch sizes: numbers or percentages ("30%"); the last one repeats. Empty = all hosts at once. */
  serial: (number | string)[];
  maxFailPercentage?: number;
  /**
   * `early_build: false`: this play's build phase waits for the earlier plays to end, like its other phases. For a
   * build phase that needs what an earlier play did (e.g. a package mirror an earlier play sets up). Absent: true,
   * the build phase starts as soon as the play's hosts are free (./play-order.ts).
   */
  earlyBuild?: boolean;
  file: string;
  line: number;
}

export interface Playbook {
  file: string;
  plays: Play[];
}

const PLAY_KEYS = new Set(['name', 'hosts', 'roles', 'serial', 'max_fail_percentage', 'early_build']);

export function resolvePlaybookPath(given: string | undefined): string {
  const candidate = given ?? 'playbooks/site.yaml';
  const fromCwd = resolve(candidate);
  if (existsSync(fromCwd)) return fromCwd;
  const fromProject = join(projectDir(), candidate);
  if (!given && existsSync(fromProject)) return fromProject;
  throw new InputError(`playbook not found`, fromCwd);
}

export async function loadPlaybook(file: string): Promise<Playbook> {
  const lc = new LineCounter();
  const text = readFileSync(file, 'utf8');
  const doc = parseDocument(text, { lineCounter: lc, uniqueKeys: true });
  const at = (node: YamlNode | null | undefined) => {
    const p = lc.linePos(node?.range?.[0] ?? 0);
    return [p.line, p.col] as const;
  };
  const fail = (node: YamlNode | null | undefined, msg: string, path?: string): never => {
    const [l, c] = at(node);
    throw new InputError(msg, file, l, c, path);
  };
  if (doc.errors.length) {
    const e = doc.errors[0]!;
    throw new InputError(e.message.split('\n')[0]!, file, e.linePos?.[0]?.line, e.linePos?.[0]?.col);
  }
  if (!isSeq(doc.contents)) fail(doc.contents as YamlNode, 'a playbook is a list of plays');
  const plays: Play[] = [];
  for (const [i, item] of (doc.contents as { items: unknown[] }).items.entries()) {
    const path = `[${i}]`;
    if (!isMap(item)) fail(item as YamlNode, 'a play is a mapping with name, hosts and roles', path);
    const map = item as YAMLMap;
    for (const pair of map.items) {
      const key = isScalar(pair.key) ? String(pair.key.value) : '';
      if (!PLAY_KEYS.has(key)) fail(pair.key as YamlNode, `unknown play keyword '${key}' (allowed: ${[...PLAY_KEYS].join(', ')})`, `${path}.${key}`);
    }
    const get = (k: string) => map.get(k, true) as YamlNode | undefined;
    const hosts = get('hosts');
    if (!isScalar(hosts) || typeof hosts.value !== 'string' || !hosts.value) fail(hosts ?? map, "'hosts' must be a host pattern string", `${path}.hosts`);
    const name = get('name');
    const rolesNode = get('roles');
    if (!isSeq(rolesNode)) fail(rolesNode ?? map, "'roles' must be a list of role names", `${path}.roles`);
    const roles: PlayRole[] = [];
    for (const [j, r] of (rolesNode as { items: unknown[] }).items.entries()) {
      const rpath = `${path}.roles[${j}]`;
      let roleName: unknown;
      let tags: string[] = [];
      let node = r as YamlNode;
      if (isScalar(r)) roleName = r.value;
      else if (isMap(r)) {
        const rn = r.get('role', true) as YamlNode | undefined;
        node = rn ?? (r as YamlNode);
        roleName = isScalar(rn) ? rn.value : undefined;
        const tnode = r.get('tags', true) as YamlNode | undefined;
        const t = tnode ? (tnode as { toJSON(): unknown }).toJSON() : undefined;
        if (typeof t === 'string') tags = t.split(',').map((x) => x.trim()).filter(Boolean);
        else if (Array.isArray(t)) tags = t.map(String);
        else if (t !== undefined && t !== null) fail(tnode, "'tags' must be a list of names or a comma-separated string", `${rpath}.tags`);
      }
      if (typeof roleName !== 'string') fail(node, 'a role entry is a name or { role: name, tags: [...] }', rpath);
      roles.push({ role: await loadRole(roleName as string, dirname(file), () => fail(node, `unknown role '${roleName}' (roles are folders under roles/: ${availableRoles().join(', ')})`, rpath)), tags });
    }
    const serialNode = get('serial');
    const serialRaw = serialNode ? (serialNode as { toJSON(): unknown }).toJSON() : undefined;
    const serial = (serialRaw === undefined ? [] : Array.isArray(serialRaw) ? serialRaw : [serialRaw]) as (number | string)[];
    for (const s of serial)
      if (!(typeof s === 'number' && s > 0) && !(typeof s === 'string' && /^\d+(\.\d+)?%$/.test(s))) fail(serialNode, `'serial' must be a positive number, a percentage like "30%", or a list of them`, `${path}.serial`);
    const mfpNode = get('max_fail_percentage');
    const mfp = mfpNode ? (mfpNode as { toJSON(): unknown }).toJSON() : undefined;
    if (mfp !== undefined && (typeof mfp !== 'number' || mfp < 0 || mfp > 100)) fail(mfpNode, "'max_fail_percentage' must be a number from 0 to 100", `${path}.max_fail_percentage`);
    const earlyNode = get('early_build');
    const early = earlyNode ? (earlyNode as { toJSON(): unknown }).toJSON() : undefined;
    if (early !== undefined && typeof early !== 'boolean') fail(earlyNode, "'early_build' must be true or false", `${path}.early_build`);
    plays.push({
      name: isScalar(name) ? String(name.value) : String((hosts as { value: string }).value),
      hosts: String((hosts as { value: string }).value),
      roles,
      serial,
      ...(mfp !== undefined ? { maxFailPercentage: mfp as number } : {}),
      ...(early !== undefined ? { earlyBuild: early as boolean } : {}),
      file,
      line: at(map)[0],
    });
  }
  return { file, plays };
}

/** Like Ansible: roles/ beside the playbook, then the project's roles/. Compiled runs load the dist/ mirror. */
function roleSearchPath(playbookDir: string): string[] {
  const project = projectDir();
  const dirs = [join(playbookDir, 'roles'), join(playbookDir, '..', 'roles'), join(project, 'roles')];
  return [...new Set(dirs.map((d) => resolve(d)))].map((d) => (runningCompiled() && d.startsWith(`${project}/`) ? join(project, 'dist', d.slice(project.length + 1)) : d));
}

export function availableRoles(): string[] {
  const dir = join(projectDir(), 'roles');
  if (!existsSync(dir)) return [];
  return readdirNames(dir);
}

function readdirNames(dir: string): string[] {
  return readdirSync(dir).filter((n) => statSync(join(dir, n)).isDirectory()).sort();
}

const roleCache = new Map<string, Role>();

export async function loadRole(name: string, playbookDir: string, notFound: () => never): Promise<Role> {
  if (!/^[a-z][a-z0-9_-]*$/.test(name)) notFound();
  const entry = runningCompiled() ? 'index.js' : 'index.ts';
  const file = roleSearchPath(playbookDir).map((d) => join(d, name, entry)).find((f) => existsSync(f));
  if (!file) return notFound();
  const cached = roleCache.get(file);
  if (cached) return cached;
  const mod = (await import(pathToFileURL(file).href)) as { default?: Role };
  if (!mod.default) throw new InputError(`role module does not export a default role`, file);
  roleCache.set(file, mod.default);
  return mod.default;
}
