// `provision pki rotate-ca start|promote|retire -i INV`: the controller-side half of a CA rollover (src/pki/rotation.ts);
// each stage is followed by an ordinary run, which reloads (never restarts) the brokers and HAProxy.
import { resolve } from 'node:path';
import { InputError } from '../errors.js';
import { acquireRunLock, describeCommand } from '../controller/run-lock.js';
import { loadInventory } from '../inventory/load.js';
import { rotateCa } from '../pki/index.js';
import { DEFAULT_PKI_DIR } from '../cluster/certificate.js';
import type { PkiOptions } from './options.js';
import type { CommandResult } from './result.js';

export async function pkiCommand(o: PkiOptions): Promise<CommandResult> {
  const { stage } = o;
  const inv = await loadInventory(o.inventories);
  const first = inv.groups.get('brokers')?.hosts[0];
  const vars = first ? inv.hosts.get(first)!.vars : {};
  if (typeof vars.tls_ca_cert === 'string') {
    const loc = inv.hosts.get(first!)!.varSources.tls_ca_cert?.locate([]);
    throw new InputError('the CA is your own (tls_ca_cert): rotate it by giving the new bundle in tls_ca_cert, not with pki rotate-ca', loc?.file, loc?.line, loc?.column, 'tls_ca_cert');
  }
  const dir = resolve(inv.baseDir, typeof vars.pki_dir === 'string' ? vars.pki_dir : DEFAULT_PKI_DIR);
  // The run lock: a run issuing certificates meanwhile would read the PKI directory half rotated.
  const lock = await acquireRunLock(inv.baseDir, { command: describeCommand(['provision', 'pki', 'rotate-ca', stage]) });
  try {
    const lines = await rotateCa(dir, stage, { keyType: vars.tls_key_type === 'rsa' ? 'rsa' : 'ec' });
    process.stdout.write(`${lines.join('\n')}\n`);
    return 'ok';
  } finally {
    lock.release();
  }
}
