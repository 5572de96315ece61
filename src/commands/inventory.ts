import { parseArgs } from 'node:util';
import { parseExtraVars } from '../cli/extra-vars.js';
import { VAULT_OPTIONS, vaultCliOptions } from '../cli/options.js';
import { OptionsError } from '../errors.js';
import { inventoryGraph, inventoryHost, inventoryList } from '../inventory/ansible-inventory-output.js';
import { loadInventory } from '../inventory/load.js';
import { loadVaultKeyring } from '../inventory/vault-secrets.js';

export const INVENTORY_HELP = `provision inventory -i INVENTORY (--list | --graph [GROUP] | --host HOST) [-e VARS] [vault options]
  the same output as ansible-inventory, so the two can be diffed`;

/** `provision inventory --list | --graph [GROUP] | --host H`: what ansible-inventory prints, from provision's reading. */
export async function inventoryCommand(args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args, allowPositionals: true, strict: true,
      options: {
        inventory: { type: 'string', short: 'i', multiple: true }, list: { type: 'boolean' }, graph: { type: 'boolean' },
        host: { type: 'string' }, 'extra-vars': { type: 'string', short: 'e', multiple: true }, help: { type: 'boolean', short: 'h' },
        ...VAULT_OPTIONS,
      },
    });
  } catch (err) {
    throw new OptionsError(`${(err as Error).message}\n${INVENTORY_HELP}`);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    process.stdout.write(`${INVENTORY_HELP}\n`);
    return 0;
  }
  const modes = [values.list, values.graph, values.host !== undefined].filter(Boolean).length;
  if (modes !== 1) throw new OptionsError(`provision inventory needs exactly one of --list, --graph, --host\n${INVENTORY_HELP}`);
  if (!values.inventory?.length) throw new OptionsError('provision inventory needs --inventory/-i');
  if (positionals.length > (values.graph ? 1 : 0)) throw new OptionsError(`unexpected argument '${positionals[values.graph ? 1 : 0]}'`);
  const vault = await loadVaultKeyring(vaultCliOptions(values));
  const inv = await loadInventory(values.inventory, { vault, extraVars: parseExtraVars(values['extra-vars'] ?? [], vault) });
  const out = values.list ? inventoryList(inv) : values.graph ? inventoryGraph(inv, positionals[0]) : inventoryHost(inv, values.host!);
  process.stdout.write(`${out}\n`);
  return 0;
}
