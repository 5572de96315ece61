import { isMap, isScalar, isSeq, type ParsedNode } from 'yaml';
import { expandHostRange, splitHostPort } from './host-range.js';
import type { InventoryBuilder } from './model.js';
import type { SourceLocation } from './types.js';
import {
  deref, describeNode, fail, locatedValue, mapEntries, posOf, stringKey, type YamlFile,
} from './yaml-values.js';

const SECTIONS = new Set(['hosts', 'vars', 'children']);

/** Ansible's `yaml` inventory plugin: top-level keys are groups with `hosts`, `vars` and `children`. */
export function parseYamlInventory(y: YamlFile, builder: InventoryBuilder): void {
  const root = deref(y, y.doc.contents);
  if (root === null || (isScalar(root) && (root.value === null || root.value === ''))) return; // empty file: no hosts
  if (!isMap(root)) {
    fail(`a YAML inventory must be a mapping of group names (usually 'all:'), got ${describeNode(root)}`, posOf(y, root));
  }
  for (const { key, value, keyNode } of mapEntries(y, root)) {
    const { name, loc } = stringKey(y, keyNode ?? key, 'a group name');
    if (name === 'plugin') fail('inventory plugin configuration files (plugin: …) are not supported; list hosts and groups instead', loc);
    parseGroup(y, builder, name, loc, value, undefined);
  }
}

function parseGroup(
  y: YamlFile, b: InventoryBuilder, group: string, groupLoc: SourceLocation, node: ParsedNode | null, parent: string | undefined,
): void {
  b.addGroup(group, groupLoc);
  if (parent !== undefined) b.addChild(parent, group, groupLoc);
  if (node === null || (isScalar(node) && node.value === null)) return;
  if (!isMap(node)) {
    fail(`group '${group}' must be a mapping with 'hosts', 'vars' and/or 'children', got ${describeNode(node)}`, posOf(y, node, groupLoc));
  }
  for (const { key, value, keyNode } of mapEntries(y, node)) {
    const { name: section, loc } = stringKey(y, keyNode ?? key, `a key of group '${group}'`);
    if (!SECTIONS.has(section)) {
      fail(`unexpected key '${section}' in group '${group}': only 'hosts', 'vars' and 'children' are allowed`, loc);
    }
    const entries = sectionEntries(y, group, section, value, loc);
    for (const e of entries) {
      if (section === 'vars') {
        const { name, loc: keyLoc } = stringKey(y, e.keyNode, `a variable name in group '${group}'`);
        const r = locatedValue(y, e.value, keyLoc);
        r.node.keyLoc = keyLoc;
        b.setGroupVar(group, name, { value: r.value, node: r.node, file: y.file });
      } else if (section === 'children') {
        const { name, loc: keyLoc } = stringKey(y, e.keyNode, `a group name in the children of '${group}'`);
        parseGroup(y, b, name, keyLoc, e.value, group);
      } else {
        parseHost(y, b, group, e.keyNode, e.value);
      }
    }
  }
}

/** The entries of `hosts:` / `vars:` / `children:` — a mapping, nothing, or (like Ansible) a single name. */
function sectionEntries(y: YamlFile, group: string, section: string, node: ParsedNode | null, loc: SourceLocation) {
  if (node === null || (isScalar(node) && node.value === null)) return [];
  if (isScalar(node) && typeof node.value === 'string' && section !== 'vars') {
    return [{ keyNode: node as unknown, value: null as ParsedNode | null }];
  }
  if (!isMap(node)) {
    const example = section === 'vars' ? 'name: value' : section === 'hosts' ? 'host1:' : 'child_group:';
    const hint = isSeq(node) ? ` (write each entry as a key ending in ':', e.g. '${example}', not as a '- ' list item)` : '';
    fail(`'${section}' of group '${group}' must be a mapping, got ${describeNode(node)}${hint}`, posOf(y, node, loc));
  }
  return mapEntries(y, node).map((e) => ({ keyNode: e.keyNode, value: e.value }));
}

function parseHost(y: YamlFile, b: InventoryBuilder, group: string, keyNode: unknown, value: ParsedNode | null): void {
  const { name: pattern, loc } = stringKey(y, keyNode, `a host name in group '${group}'`);
  let names: string[];
  let port: number | undefined;
  try {
    const hp = splitHostPort(pattern.trim());
    port = hp.port;
    names = expandHostRange(hp.name);
  } catch (e) {
    fail((e as Error).message, loc);
  }
  if (names.some((n) => n === '')) fail(`empty host name in '${pattern}'`, loc);
  const hasVars = value !== null && !(isScalar(value) && value.value === null);
  if (hasVars && !isMap(value)) {
    fail(`host '${pattern}' must map to its variables (a mapping) or to nothing, got ${describeNode(value)}`, posOf(y, value, loc));
  }
  const vars = hasVars ? mapEntries(y, value!) : [];
  for (const name of names) {
    b.addHost(name, group, loc);
    if (port !== undefined) b.setHostVar(name, 'ansible_port', { value: port, node: { loc, keyLoc: loc }, file: y.file });
    for (const e of vars) {
      const { name: key, loc: keyLoc } = stringKey(y, e.keyNode, `a variable name of host '${name}'`);
      const r = locatedValue(y, e.value, keyLoc);
      r.node.keyLoc = keyLoc;
      b.setHostVar(name, key, { value: r.value, node: r.node, file: y.file });
    }
  }
}
