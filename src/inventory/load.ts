import { readFile, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { isMap } from 'yaml';
import { InputError } from '../errors.js';
import { Secret } from '../secrets.js';
import { expandHostRange, splitHostPort } from './host-range.js';
import { parseIniInventory } from './ini-inventory.js';
import { addListFormat, isInventoryScript, isListFormat, runInventoryScript } from './json-list-inventory.js';
import { InventoryBuilder, type VarEntry } from './model.js';
import { selectHosts } from './patterns.js';
import { hostGroupsInOrder, winningVars, type VarsDir } from './precedence.js';
import { LazyMapping } from './jinja-values.js';
import { HostVarsResolver } from './resolve.js';
import type { Inventory, InventoryGroup, InventoryHost } from './types.js';
import { decryptFileText, type VaultKeyring } from './vault.js';
import { loadVarsFor } from './vars-files.js';
import { NO_LOCATION } from './var-source.js';
import { LookupRef } from './markers.js';
import type { SourceLocation } from './types.js';
import { checkFileSize, parseYamlFile, type YamlFile } from './yaml-values.js';
import { parseTomlInventory } from './toml-inventory.js';
import { parseYamlInventory } from './yaml-inventory.js';

export interface LoadInventoryOptions {
  /** Environment for `lookup('env', …)` / `from_env` (default: process.env). */
  env?: NodeJS.ProcessEnv;
  /** `-e` variables: highest precedence (entries with their positions when read from `-e @file`, see loadExtraVars). */
  extraVars?: Record<string, unknown> | Map<string, VarEntry>;
  /**
   * Environment variables a winning lookup needs but that are not set: 'error' (default) reports all of them in one
   * error; 'placeholder' reads each as a placeholder text, for what needs no secret (--list-hosts, --list-tasks).
   */
  missingEnv?: 'error' | 'placeholder';
  /** Vault passwords for encrypted files and `!vault` values (none: such content is an error naming it). */
  vault?: VaultKeyring;
  /** Told about what Ansible warns about while reading (duplicate YAML keys); default: `[WARNING]: …` on stderr. */
  warn?: (message: string) => void;
}

/** Files Ansible skips when an inventory source is a directory (its INVENTORY_IGNORE_EXTS default, `.ini` included). */
const IGNORED = /^\.|^(host_vars|group_vars|vars_plugins)$|(\.pyc|\.pyo|\.swp|\.bak|~|\.rpm|\.md|\.txt|\.rst|\.orig|\.ini|\.cfg|\.retry)$/;

/**
 * Load one or more Ansible inventories (`-i` files or directories; YAML or INI) with their group_vars/ and host_vars/,
 * merge them like Ansible, and resolve every host's variables (precedence, lookups → Secrets, `{{ var }}` references).
 */
export async function loadInventory(paths: string[], opts: LoadInventoryOptions = {}): Promise<Inventory> {
  if (paths.length === 0) throw new InputError('no inventory given (use -i <file>)');
  const env = opts.env ?? process.env;
  const b = new InventoryBuilder();
  const files: string[] = [];
  const varDirs: string[] = [];
  const hostFile = new Map<string, string>();

  const parseFile = async (file: string) => {
    if (isInventoryScript(file)) {
      // Ansible's script plugin comes before the file parsers: an executable inventory is run with --list.
      files.push(file);
      const before = new Set(b.hostOrder);
      await runInventoryScript(file, b);
      for (const h of b.hostOrder) if (!before.has(h)) hostFile.set(h, file);
      return;
    }
    let text: string;
    try {
      checkFileSize(file, (await stat(file)).size, 'the inventory file');
      text = await readFile(file, 'utf8');
    } catch (e) {
      if (e instanceof InputError) throw e;
      throw new InputError(`cannot read inventory file: ${(e as Error).message}`, file);
    }
    text = decryptFileText(text, file, opts.vault);
    files.push(file);
    const before = new Set(b.hostOrder);
    const baseDir = path.dirname(path.resolve(file));
    if (path.extname(file).toLowerCase() === '.toml') parseTomlInventory(file, text, b);
    else if (looksLikeYaml(file, text)) await parseYamlOrListInventory(parseYamlFile(file, text, baseDir, opts.warn), b);
    else parseIniInventory(file, text, baseDir, b);
    for (const h of b.hostOrder) if (!before.has(h)) hostFile.set(h, file);
  };

  const parseDir = async (dir: string) => {
    for (const name of (await readdir(dir)).sort()) {
      if (IGNORED.test(name)) continue;
      const p = path.join(dir, name);
      const s = await stat(p);
      if (s.isDirectory()) await parseDir(p);
      else if (s.isFile()) await parseFile(p);
    }
  };

  for (const given of paths) {
    const p = path.normalize(given);
    let s;
    try {
      s = await stat(p);
    } catch {
      if (given.includes(',')) {
        addHostList(given, b);
        continue;
      }
      throw new InputError(`inventory file not found`, given);
    }
    if (s.isDirectory()) {
      await parseDir(p);
      varDirs.push(p);
    } else {
      await parseFile(p);
      varDirs.push(path.dirname(p));
    }
  }
  b.finish();

  const dirs = await loadVarsDirs([...new Set(varDirs.map((d) => path.resolve(d)))], varDirs, b, opts.vault, opts.warn);
  const extra = opts.extraVars instanceof Map ? opts.extraVars : extraEntries(opts.extraVars ?? {});
  const missing = missingEnvVars(b, dirs, extra, env);
  if (missing.size && opts.missingEnv !== 'placeholder') throw missingEnvError(missing);
  const withPlaceholders = missing.size ? { ...env, ...Object.fromEntries([...missing.keys()].map((k) => [k, `(${k} not set)`])) } : env;
  return assemble(b, dirs, extra, withPlaceholders, files, hostFile, path.resolve(varDirs[0] ?? '.'), opts.vault);
}

/**
 * A YAML/JSON inventory, or the JSON of `ansible-inventory --list` saved to a file (recognised by `_meta.hostvars`).
 * Ansible itself reads that JSON only from a script; provision reads it as a file too, so `--list > inv.json` works.
 */
async function parseYamlOrListInventory(y: YamlFile, b: InventoryBuilder): Promise<void> {
  const root = y.doc.contents;
  if (isMap(root) && root.has('_meta')) {
    const data: unknown = y.doc.toJS({ maxAliasCount: 100 });
    if (isListFormat(data)) return addListFormat(data, y.file, b);
  }
  parseYamlInventory(y, b);
}

/** YAML when the extension says so, or when the text is a mapping such as `all:`; INI otherwise (like Ansible's plugin chain). */
export function looksLikeYaml(file: string, text: string): boolean {
  const ext = path.extname(file).toLowerCase();
  if (['.yml', '.yaml', '.json'].includes(ext)) return true;
  if (ext === '.ini' || ext === '.cfg') return false;
  const first = text.split(/\r?\n/).map((l) => l.trim()).find((l) => l && !l.startsWith('#') && !l.startsWith(';'));
  if (!first) return false;
  if (first === '---' || first.startsWith('{')) return true;
  if (first.startsWith('[')) return false;
  return /^("[^"]*"|'[^']*'|[^\s=:"'[\]]+):(\s|$)/.test(first);
}

/** `-i 'host1,host2:2222,'`: Ansible's host_list source. */
function addHostList(list: string, b: InventoryBuilder): void {
  const loc = NO_LOCATION('(host list)');
  for (const item of list.split(',').map((s) => s.trim()).filter(Boolean)) {
    let hp;
    try {
      hp = splitHostPort(item);
    } catch (e) {
      throw new InputError((e as Error).message, '(host list)', undefined, undefined, item);
    }
    for (const name of expandHostRange(hp.name)) {
      b.addHost(name, 'ungrouped', loc);
      if (hp.port) b.setHostVar(name, 'ansible_port', { value: hp.port, node: { loc }, file: loc.file });
    }
  }
}

async function loadVarsDirs(absDirs: string[], shown: string[], b: InventoryBuilder, vault: VaultKeyring | undefined, warn?: (message: string) => void): Promise<VarsDir[]> {
  const display = new Map(shown.map((d) => [path.resolve(d), d]));
  const out: VarsDir[] = [];
  for (const abs of absDirs) {
    const dir = display.get(abs) ?? abs;
    const groupVars = new Map<string, Map<string, VarEntry>>();
    const hostVars = new Map<string, Map<string, VarEntry>>();
    for (const g of b.groups.keys()) {
      const vars = await loadVarsFor(path.join(dir, 'group_vars'), g, vault, warn);
      if (vars) groupVars.set(g, vars);
    }
    for (const h of b.hosts.keys()) {
      const vars = await loadVarsFor(path.join(dir, 'host_vars'), h, vault, warn);
      if (vars) hostVars.set(h, vars);
    }
    out.push({ groupVars, hostVars });
  }
  return out;
}

/** Every environment variable a winning env lookup of some host needs and the environment lacks → where it is asked for. */
function missingEnvVars(b: InventoryBuilder, dirs: VarsDir[], extra: Map<string, VarEntry>, env: NodeJS.ProcessEnv): Map<string, SourceLocation> {
  const out = new Map<string, SourceLocation>();
  const visit = (v: unknown, depth: number): void => {
    if (v instanceof LookupRef) {
      if (v.kind === 'env' && env[v.arg] === undefined && v.fallback === undefined && !out.has(v.arg)) out.set(v.arg, v.loc);
    } else if (v && typeof v === 'object' && depth < 200 && !(v instanceof Secret)) for (const x of Object.values(v)) visit(x, depth + 1);
  };
  for (const def of b.hosts.values()) for (const e of winningVars(b, def, dirs, extra).values()) visit(e.value, 0);
  return out;
}

function missingEnvError(missing: Map<string, SourceLocation>): InputError {
  const where = (l: SourceLocation) => (l.line ? `${l.file}:${l.line}:${l.column}` : l.file);
  const [[name, first]] = [...missing];
  const hint = '(--list-hosts, --list-tasks and --list-tags do not need them)';
  const problem =
    missing.size === 1
      ? `environment variable ${name} is not set: export it before the run ${hint}`
      : `${missing.size} environment variables the inventory reads are not set:${[...missing].map(([n, l]) => `\n  ${n} (${where(l)})`).join('')}\n  export them before the run ${hint}`;
  return new InputError(problem, first!.file, first!.line || undefined, first!.column || undefined);
}

function extraEntries(extra: Record<string, unknown>): Map<string, VarEntry> {
  const loc = NO_LOCATION('(extra vars)');
  return new Map(Object.entries(extra).map(([k, value]) => [k, { value, node: { loc }, file: loc.file }]));
}

function assemble(
  b: InventoryBuilder, dirs: VarsDir[], extra: Map<string, VarEntry>, env: NodeJS.ProcessEnv,
  files: string[], hostFile: Map<string, string>, baseDir: string, vault: VaultKeyring | undefined,
): Inventory {
  // Each group keeps its own host order, as Ansible's (groups['x'][0], run order, serial batches).
  const groups = new Map<string, InventoryGroup>();
  for (const g of b.groups.values()) {
    groups.set(g.name, { name: g.name, children: [...g.children], hosts: b.groupHosts(g.name), directHosts: g.name === 'all' ? [] : [...g.hosts] });
  }
  const allGroups = Object.fromEntries([...groups.values()].map((g) => [g.name, g.hosts]));

  const lookupCache = new Map<string, Secret>();
  const resolvers = new Map<string, HostVarsResolver>();
  const hostvars = new LazyMapping('hostvars', () => [...b.hostOrder], (h) => {
    const r = resolvers.get(h);
    return r && new LazyMapping(`hostvars['${h}']`, () => r.names(), (k) => r.get(k));
  });
  const allowPipe = env.PROVISION_ALLOW_PIPE_LOOKUP === '1';
  for (const name of b.hostOrder) {
    const def = b.hosts.get(name)!;
    const hostGroups = hostGroupsInOrder(b, def);
    resolvers.set(name, new HostVarsResolver(winningVars(b, def, dirs, extra), {
      host: name, groups: hostGroups, allGroups, inventoryFile: hostFile.get(name), env, lookupCache, vault, hostvars, allowPipe,
    }));
  }
  const hosts = new Map<string, InventoryHost>();
  for (const name of b.hostOrder) {
    const { vars, varSources } = resolvers.get(name)!.all();
    hosts.set(name, { name, groups: hostGroupsInOrder(b, b.hosts.get(name)!), vars, varSources, loc: b.hosts.get(name)!.loc });
  }

  // `all` in Ansible's order: ungrouped hosts first (its first child), then each group's in turn.
  const hostOrder = groups.get('all')!.hosts;
  const rawVars = new Map([...resolvers].map(([h, r]) => [h, r.entries]));
  return {
    files,
    baseDir,
    hosts,
    groups,
    hostOrder,
    groupLocations: new Map([...b.groups.values()].flatMap((g) => (g.loc ? [[g.name, g.loc] as const] : []))),
    rawVars: (host: string) => rawVars.get(host) ?? new Map(),
    selectHosts: (pattern: string, warn?: (message: string) => void) => selectHosts(pattern, { groups, hostOrder, declared: [...b.hostOrder], ...(warn ? { warn } : {}) }),
  };
}
