import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { inventoryGraph, inventoryList } from '../../../src/inventory/ansible-inventory-output.js';
import { loadInventory } from '../../../src/inventory/load.js';
import { InputError } from '../../../src/errors.js';
import { ansibleInventory, ansibleListHosts } from '../../support/real-ansible.js';

/**
 * Inventories of our own (test/fixtures/ansible-corpus/<name>/): each read by provision and by the real
 * ansible-inventory 2.14; `provision inventory --list` and `--graph` must print the same. A `sources` file lists
 * several -i sources (files or directories) in order; otherwise the one file named hosts*. A `patterns` file lists
 * host patterns (one a line): each must select the same hosts in the same order as ansible-playbook's play does.
 */
const CORPUS = path.resolve('test/fixtures/ansible-corpus');

function sourcesOf(name: string): string[] {
  const dir = path.join(CORPUS, name);
  const list = path.join(dir, 'sources');
  if (existsSync(list)) return readFileSync(list, 'utf8').split('\n').filter(Boolean).map((s) => path.join(dir, s));
  return readdirSync(dir).filter((f) => f.startsWith('hosts')).map((f) => path.join(dir, f));
}

/** The hosts a pattern selects; none at all is an error for provision, an empty play for Ansible. */
function selected(inv: Awaited<ReturnType<typeof loadInventory>>, pattern: string): string[] {
  try {
    return inv.selectHosts(pattern, () => {});
  } catch (e) {
    if (e instanceof InputError) return [];
    throw e;
  }
}

const NAMES = readdirSync(CORPUS).filter((n) => sourcesOf(n).length > 0).sort();

describe('provision inventory --list / --graph equal ansible-inventory on the corpus', () => {
  it('has a corpus', () => expect(NAMES.length).toBeGreaterThanOrEqual(30));

  it.each(NAMES)('%s', async (name) => {
    const sources = sourcesOf(name);
    const env = { PROVISION_CORPUS_VALUE: 'corpus-Value-1' };
    const inv = await loadInventory(sources, { env });
    expect(JSON.parse(inventoryList(inv))).toEqual(JSON.parse(ansibleInventory(sources, ['--list'], env)));
    expect(inventoryGraph(inv)).toBe(ansibleInventory(sources, ['--graph'], env).trimEnd());
    const patternsFile = path.join(CORPUS, name, 'patterns');
    if (existsSync(patternsFile)) {
      const patterns = readFileSync(patternsFile, 'utf8').split('\n').filter(Boolean);
      const ours = patterns.map((p) => selected(inv, p));
      expect(Object.fromEntries(patterns.map((p, i) => [p, ours[i]]))).toEqual(Object.fromEntries(patterns.map((p, i) => [p, ansibleListHosts(sources, patterns)[i]])));
    }
  });
});
