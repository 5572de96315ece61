/**
 * The import rules of docs/architecture.md, checked on the source tree: roles are leaves that import only src/,
 * src/ never imports roles/ or test/, folders form no import circle, and no import runs from a lower layer up
 * to a higher one. Imports are read with TypeScript's own pre-processor (static, `export … from`, dynamic).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/**
 * Layers, lowest first: a folder may import its own layer and those below it. `src` is the loose modules
 * directly in src/ (errors, secrets, generated secrets).
 */
const LAYERS: { name: string; folders: string[] }[] = [
  { name: 'base', folders: ['src', 'src/util'] },
  {
    name: 'libraries',
    folders: ['src/inventory', 'src/transport', 'src/facts', 'src/controller', 'src/pki', 'src/tls', 'src/dynsec', 'src/haproxy', 'src/keepalived', 'src/mqtt', 'src/mosquitto', 'src/cedalo', 'src/exporter', 'src/health', 'src/sandbox'],
  },
  { name: 'engine', folders: ['src/engine', 'src/operations'] },
  { name: 'cluster model', folders: ['src/cluster'] },
  { name: 'roles', folders: ['roles/*'] },
  // The app, in three layers: renderers, commands (typed options in, a result out), and the command line over both.
  { name: 'app: output', folders: ['src/output'] },
  { name: 'app: commands', folders: ['src/commands'] },
  { name: 'app: cli', folders: ['src/cli'] },
];

/**
 * Imports that break a rule today and are removed by a later item of issue 9. Each must still exist (a stale
 * entry fails too), so the list only shrinks.
 */
const KNOWN_EXCEPTIONS: { edge: string; why: string }[] = [];

interface Import {
  from: string;
  to: string;
}

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir)) {
    const p = join(dir, e);
    if (statSync(p).isDirectory()) out.push(...sourceFiles(p));
    else if (/\.m?ts$/.test(e) && !e.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

/** Every relative import of src/ and roles/ as repository-relative .ts paths. */
function imports(): Import[] {
  const out: Import[] = [];
  for (const file of [...sourceFiles(join(ROOT, 'src')), ...sourceFiles(join(ROOT, 'roles'))]) {
    const info = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
    for (const { fileName } of info.importedFiles) {
      if (!fileName.startsWith('.')) continue;
      const target = resolve(dirname(file), fileName).replace(/\.js$/, '.ts');
      out.push({ from: relative(ROOT, file), to: relative(ROOT, target) });
    }
  }
  return out;
}

/** `roles/<role>`, `src/<folder>`, `src` for modules directly in src/, `test` for anything under test/. */
export function folderOf(path: string): string {
  const parts = path.split('/');
  if (parts[0] === 'test') return 'test';
  return parts.length > 2 ? `${parts[0]}/${parts[1]}` : parts[0]!;
}

function layerOf(folder: string): number {
  return LAYERS.findIndex((l) => l.folders.some((f) => f === folder || (f.endsWith('/*') && folder.startsWith(f.slice(0, -1)))));
}

/** Folder edges `a -> b` with the files that make them. */
function folderEdges(all: Import[]): Map<string, string[]> {
  const edges = new Map<string, string[]>();
  for (const i of all) {
    const a = folderOf(i.from);
    const b = folderOf(i.to);
    if (a === b) continue;
    const k = `${a} -> ${b}`;
    edges.set(k, [...(edges.get(k) ?? []), `${i.from} → ${i.to}`]);
  }
  return edges;
}

/** Strongly connected components with more than one node (Tarjan): each is an import circle. */
export function circles(edges: Iterable<[string, string]>): string[][] {
  const next = new Map<string, string[]>();
  for (const [a, b] of edges) {
    next.set(a, [...(next.get(a) ?? []), b]);
    if (!next.has(b)) next.set(b, []);
  }
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const out: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, index.size);
    low.set(v, index.get(v)!);
    stack.push(v);
    onStack.add(v);
    for (const w of next.get(v)!) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1) out.push(scc.sort());
    }
  };
  for (const v of next.keys()) if (!index.has(v)) visit(v);
  return out;
}

describe('import graph checker', () => {
  it('finds circles and only circles', () => {
    expect(circles([['a', 'b'], ['b', 'c'], ['c', 'a'], ['c', 'd']])).toEqual([['a', 'b', 'c']]);
    expect(circles([['a', 'b'], ['b', 'c'], ['a', 'c']])).toEqual([]);
  });
  it('names folders as the rules do', () => {
    expect(folderOf('roles/pki/index.ts')).toBe('roles/pki');
    expect(folderOf('src/cluster/topology.ts')).toBe('src/cluster');
    expect(folderOf('src/errors.ts')).toBe('src');
    expect(folderOf('test/support/cli.ts')).toBe('test');
  });
  it('reads static, re-exported and dynamic imports', () => {
    const info = ts.preProcessFile("import a from './a.js';\nexport { b } from '../b.js';\nconst c = await import('./c.js');", true, true);
    expect(info.importedFiles.map((f) => f.fileName)).toEqual(['./a.js', '../b.js', './c.js']);
  });
});

describe('architecture', () => {
  const all = imports();
  const edges = folderEdges(all);
  const excepted = new Set(KNOWN_EXCEPTIONS.map((e) => e.edge));

  it('sees the tree (the scan is not empty)', () => {
    expect(all.length).toBeGreaterThan(200);
    expect([...edges.keys()]).toContain('roles/pki -> src/cluster');
  });

  it('no role imports another role', () => {
    const bad = all.filter((i) => i.from.startsWith('roles/') && i.to.startsWith('roles/') && folderOf(i.from) !== folderOf(i.to));
    expect(bad.map((i) => `${i.from} → ${i.to}`)).toEqual([]);
  });

  it('roles import only src/ (and their own folder)', () => {
    const bad = all.filter((i) => i.from.startsWith('roles/') && folderOf(i.from) !== folderOf(i.to) && !i.to.startsWith('src/'));
    expect(bad.map((i) => `${i.from} → ${i.to}`)).toEqual([]);
  });

  it('src/ imports neither roles/ nor test/', () => {
    const bad = all.filter((i) => i.from.startsWith('src/') && (i.to.startsWith('roles/') || i.to.startsWith('test/')) && !excepted.has(`${folderOf(i.from)} -> ${folderOf(i.to)}`));
    expect(bad.map((i) => `${i.from} → ${i.to}`)).toEqual([]);
  });

  it('every folder has a layer', () => {
    const folders = new Set(all.flatMap((i) => [folderOf(i.from), folderOf(i.to)]).filter((f) => f !== 'test'));
    expect([...folders].filter((f) => layerOf(f) < 0)).toEqual([]);
  });

  it('no import runs from a lower layer up to a higher one', () => {
    const bad = [...edges].filter(([k]) => {
      if (excepted.has(k)) return false;
      const [a, b] = k.split(' -> ') as [string, string];
      return b !== 'test' && layerOf(a) < layerOf(b);
    });
    expect(bad.map(([k, files]) => `${k} (${files[0]})`)).toEqual([]);
  });

  it('no import circle between folders', () => {
    const pairs = [...edges.keys()].filter((k) => !excepted.has(k)).map((k) => k.split(' -> ') as [string, string]);
    expect(circles(pairs)).toEqual([]);
  });

  it('no import circle between files (roles and all of src/)', () => {
    const pairs = all.map((i) => [i.from, i.to] as [string, string]);
    expect(circles(pairs)).toEqual([]);
  });

  it('every known exception is still needed (fixed ones leave the list)', () => {
    expect(KNOWN_EXCEPTIONS.filter((e) => !edges.has(e.edge)).map((e) => `${e.edge}: ${e.why}`)).toEqual([]);
  });
});
