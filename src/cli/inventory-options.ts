import { parseArgs } from 'node:util';
import { OptionsError } from '../errors.js';
import { inventoryListingOptions, type InventoryListingOptions } from '../commands/options.js';
import { VAULT_OPTIONS, vaultOption } from './options.js';

export const INVENTORY_HELP = `provision inventory -i INVENTORY (--list | --graph [GROUP] | --host HOST) [-e VARS] [vault options]
  the same output as ansible-inventory, so the two can be diffed`;

const INVENTORY_OPTIONS = {
  inventory: { type: 'string', short: 'i', multiple: true },
  list: { type: 'boolean' },
  graph: { type: 'boolean' },
  host: { type: 'string' },
  'extra-vars': { type: 'string', short: 'e', multiple: true },
  help: { type: 'boolean', short: 'h' },
  ...VAULT_OPTIONS,
} as const;

/** `provision inventory` argv → InventoryListingOptions (`help`: print INVENTORY_HELP). */
export function parseInventoryOptions(args: string[]): InventoryListingOptions & { help: false } | { help: true } {
  let parsed;
  try {
    parsed = parseArgs({ args, allowPositionals: true, strict: true, options: INVENTORY_OPTIONS });
  } catch (err) {
    throw new OptionsError(`${(err as Error).message}\n${INVENTORY_HELP}`);
  }
  const { values, positionals } = parsed;
  if (values.help) return { help: true };
  const modes = [values.list, values.graph, values.host !== undefined].filter(Boolean).length;
  if (modes !== 1) throw new OptionsError(`provision inventory needs exactly one of --list, --graph, --host\n${INVENTORY_HELP}`);
  if (!values.inventory?.length) throw new OptionsError('provision inventory needs --inventory/-i');
  if (positionals.length > (values.graph ? 1 : 0)) throw new OptionsError(`unexpected argument '${positionals[values.graph ? 1 : 0]}'`);
  const listing = values.list ? { list: true as const } : values.graph ? { graph: true as const, ...(positionals[0] !== undefined ? { group: positionals[0] } : {}) } : { host: values.host! };
  return { ...inventoryListingOptions({ inventories: values.inventory, listing, extraVars: values['extra-vars'] ?? [], ...vaultOption(values) }), help: false };
}
