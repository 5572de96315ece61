/**
 * Contexts for building and planning steps without connecting to anything: `--list-tasks` (src/output/listings.ts),
 * offline planning from recorded facts (test/support/recorded-facts.ts) and the role tests. Any attempt to reach the
 * host (transport or `ctx.run`) throws.
 */
import type { HostFacts } from '../facts/host-facts.js';
import type { Inventory } from '../inventory/types.js';
import type { Transport } from '../transport/types.js';
import { Coordination } from './coordination.js';
import { makeHostContext } from './host-context.js';
import type { Phase } from './phase.js';
import type { HostContext, PlayContext, RoleContext } from './types.js';

/** Facts assumed for a host nothing is contacted on (like ansible-playbook --list-tasks): a Debian 12 host. */
export const ASSUMED_FACTS: HostFacts = {
  hostname: 'host',
  fqdn: 'host',
  os: { id: 'debian', version: '12', major: 12, family: 'debian', pretty: 'Debian GNU/Linux 12 (bookworm)' },
  arch: 'x86_64',
  multiarch: 'x86_64-linux-gnu',
  init: 'systemd',
  packageManager: 'apt',
  firewall: { firewalld: false, firewalldRunning: false, ufw: false, nft: true },
  selinux: 'absent',
  addresses: ['192.0.2.10'],
  primaryAddress: '192.0.2.10',
  user: 'root',
};

/** What an offline context refuses: the transport's calls and `ctx.run`. */
export type RefusedCall = 'exec' | 'script' | 'forward' | 'run';

/** The message of the error a refused call throws. */
export type Refusal = (what: RefusedCall, host: string) => string;

const defaultRefusal: Refusal = (what, host) => `${what} on ${host}: building or planning steps offline must not touch the host`;

/** A connection that refuses every use (it still reports the SSH port a run would use: the firewall keeps it open). */
export function refusingTransport(host: string, o: { sshPort?: number; refusal?: Refusal } = {}): Transport {
  const refusal = o.refusal ?? defaultRefusal;
  const refuse = (what: RefusedCall) => async (): Promise<never> => {
    throw new Error(refusal(what, host));
  };
  return { host, sshPort: o.sshPort ?? 22, roundTrips: 0, exec: refuse('exec'), script: refuse('script'), forward: refuse('forward'), close: async () => undefined };
}

export interface OfflinePlayOptions {
  name: string;
  hosts: string[];
  inventory: Inventory;
  projectDir: string;
  check?: boolean;
  diff?: boolean;
  tags?: string[];
  skipTags?: string[];
  /** Other hosts' facts (default: none known). */
  facts?: PlayContext['facts'];
  /** Other hosts' connections (default: none). */
  transport?: PlayContext['transport'];
  listOnly?: boolean;
}

/** A play in which no host failed, nothing was posted yet and one host runs at a time. */
export function offlinePlayContext(o: OfflinePlayOptions): PlayContext {
  return {
    name: o.name,
    hosts: o.hosts,
    inventory: o.inventory,
    facts: o.facts ?? (() => undefined),
    transport: o.transport ?? (() => undefined),
    isFailed: () => false,
    coordination: new Coordination(() => false),
    ...(o.listOnly !== undefined ? { listOnly: o.listOnly } : {}),
    options: { check: o.check ?? false, diff: o.diff ?? false, forks: 1, tags: o.tags ?? [], skipTags: o.skipTags ?? [], verbose: false },
    projectDir: o.projectDir,
  };
}

export interface OfflineHostOptions {
  /** The inventory name of the host (`play.inventory` holds it). */
  host: string;
  facts: HostFacts;
  play: PlayContext;
  phase: Phase;
  /** The host's connection (default: a refusingTransport with `sshPort` and `refusal`). */
  transport?: Transport;
  sshPort?: number;
  refusal?: Refusal;
}

/** A host's context as the runner builds it (check and diff from the play's options), minus the connection. */
function parts(o: OfflineHostOptions) {
  const transport = o.transport ?? refusingTransport(o.host, { sshPort: o.sshPort, refusal: o.refusal ?? defaultRefusal });
  return { host: o.host, facts: () => o.facts, transport, phase: o.phase, play: o.play };
}

export function offlineHostContext(o: OfflineHostOptions): HostContext {
  return makeHostContext(parts(o));
}

/** offlineHostContext with the role's validated variables: what a role's phase builder is called with. */
export function offlineRoleContext<V>(o: OfflineHostOptions & { vars: V }): RoleContext<V> {
  return makeHostContext(parts(o), o.vars);
}
