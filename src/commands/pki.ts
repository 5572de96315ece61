// `provision pki rotate-ca start|promote|retire -i INV`: the controller-side half of a CA rollover (src/pki/rotation.ts);
// each stage is followed by an ordinary run, which reloads (never restarts) the brokers and HAProxy.
import { parseArgs } from 'node:util';
import { resolve } from 'node:path';
import { InputError, OptionsError } from '../errors.js';
import { acquireRunLock, describeCommand } from '../controller/run-lock.js';
import { loadInventory } from '../inventory/load.js';
import { rotateCa, type RotationStage } from '../pki/index.js';
import { DEFAULT_PKI_DIR } from '../cluster/certificate.js';

const USAGE = `usage: provision pki rotate-ca start|promote|retire -i INVENTORY

  start     make a new CA (pki/ca-next.*); the next run makes every host trust both CAs
  promote   the new CA signs from now on; the next run re-issues every server certificate (reload, no disconnect)
  retire    stop trusting the old CA; the next run leaves the new CA alone in every host's ca.crt
Clients use pki/ca-bundle.crt (every CA trusted at the current stage). Step by step: docs/ha.md.`;

const STAGES: RotationStage[] = ['start', 'promote', 'retire'];

export async function pkiCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args, options: { inventory: { type: 'string', short: 'i', multiple: true }, help: { type: 'boolean', short: 'h' } }, allowPositionals: true, strict: true });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const [what, stage] = positionals;
  if (what !== 'rotate-ca' || !STAGES.includes(stage as RotationStage)) throw new OptionsError(USAGE);
  if (!values.inventory?.length) throw new OptionsError('pki rotate-ca needs --inventory/-i');
  const inv = await loadInventory(values.inventory);
  const first = inv.groups.get('brokers')?.hosts[0];
  const vars = first ? inv.hosts.get(first)!.vars : {};
  if (typeof vars.tls_ca_cert === 'string') {
    const loc = inv.hosts.get(first!)!.varSources.tls_ca_cert?.locate([]);
    throw new InputError('the CA is your own (tls_ca_cert): rotate it by giving the new bundle in tls_ca_cert, not with pki rotate-ca', loc?.file, loc?.line, loc?.column, 'tls_ca_cert');
  }
  const dir = resolve(inv.baseDir, typeof vars.pki_dir === 'string' ? vars.pki_dir : DEFAULT_PKI_DIR);
  // The run lock: a run issuing certificates meanwhile would read the PKI directory half rotated.
  const lock = await acquireRunLock(inv.baseDir, { command: describeCommand(['provision', 'pki', 'rotate-ca', stage!]) });
  try {
    const lines = await rotateCa(dir, stage as RotationStage, { keyType: vars.tls_key_type === 'rsa' ? 'rsa' : 'ec' });
    process.stdout.write(`${lines.join('\n')}\n`);
    return 0;
  } finally {
    lock.release();
  }
}
