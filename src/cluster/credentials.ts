import type { HostContext } from '../engine/types.js';
import { generatedSecret } from '../generated-secrets.js';
import type { brokerVars, VarsOf } from './variables.js';

/** The broker's own accounts: given in the inventory, or generated once and kept beside it. */
export function systemCredentials(
  ctx: HostContext,
  vars: Pick<VarsOf<typeof brokerVars>, 'verify_user' | 'verify_password' | 'mqtt_admin_user' | 'mqtt_admin_password' | 'mqtt_health_user' | 'mqtt_health_password' | 'exporter_user' | 'exporter_password'>,
) {
  const dir = ctx.play.inventory.baseDir;
  const check = ctx.check;
  return {
    admin: { username: vars.mqtt_admin_user, password: vars.mqtt_admin_password ?? generatedSecret(dir, 'mqtt_admin_password', check) },
    health: { username: vars.mqtt_health_user, password: vars.mqtt_health_password ?? generatedSecret(dir, 'mqtt_health_password', check) },
    exporter: { username: vars.exporter_user, password: vars.exporter_password ?? generatedSecret(dir, 'exporter_password', check) },
    verify: { username: vars.verify_user, password: vars.verify_password ?? generatedSecret(dir, 'verify_password', check) },
  };
}
