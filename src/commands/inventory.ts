import { parseExtraVars } from '../inventory/extra-vars.js';
import { inventoryGraph, inventoryHost, inventoryList } from '../inventory/ansible-inventory-output.js';
import { loadInventory } from '../inventory/load.js';
import { loadVaultKeyring } from '../inventory/vault-secrets.js';
import type { InventoryListingOptions } from './options.js';
import type { CommandResult } from './result.js';

/** `provision inventory --list | --graph [GROUP] | --host H`: what ansible-inventory prints, from provision's reading. */
export async function inventoryCommand(o: InventoryListingOptions): Promise<CommandResult> {
  const vault = await loadVaultKeyring(o.vault ?? {});
  const inv = await loadInventory(o.inventories, { vault, extraVars: parseExtraVars(o.extraVars, vault) });
  const l = o.listing;
  const out = 'list' in l ? inventoryList(inv) : 'graph' in l ? inventoryGraph(inv, l.group) : inventoryHost(inv, l.host);
  process.stdout.write(`${out}\n`);
  return 'ok';
}
