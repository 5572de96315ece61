import { parseArgs } from 'node:util';
import { OptionsError } from '../errors.js';
import { pkiOptions, type PkiOptions } from '../commands/options.js';
import type { RotationStage } from '../pki/index.js';

export const PKI_HELP = `usage: provision pki rotate-ca start|promote|retire -i INVENTORY

  start     make a new CA (pki/ca-next.*); the next run makes every host trust both CAs
  promote   the new CA signs from now on; the next run re-issues every server certificate (reload, no disconnect)
  retire    stop trusting the old CA; the next run leaves the new CA alone in every host's ca.crt
Clients use pki/ca-bundle.crt (every CA trusted at the current stage). Step by step: docs/ha.md.`;

const STAGES: RotationStage[] = ['start', 'promote', 'retire'];

/** `provision pki rotate-ca STAGE -i INV` → PkiOptions (`help`: print PKI_HELP). */
export function parsePkiOptions(args: string[]): PkiOptions & { help: false } | { help: true } {
  const { values, positionals } = parseArgs({ args, options: { inventory: { type: 'string', short: 'i', multiple: true }, help: { type: 'boolean', short: 'h' } }, allowPositionals: true, strict: true });
  if (values.help) return { help: true };
  const [what, stage] = positionals;
  if (what !== 'rotate-ca' || !STAGES.includes(stage as RotationStage)) throw new OptionsError(PKI_HELP);
  if (!values.inventory?.length) throw new OptionsError('pki rotate-ca needs --inventory/-i');
  return { ...pkiOptions({ inventories: values.inventory, stage: stage as RotationStage }), help: false };
}
