/**
 * The bridged cluster: which broker bridges to which, and the mosquitto.conf lines for it.
 *
 * The rule (proof in docs/ha.md#why-it-cannot-loop): brokers are ranked in inventory order; broker k has ONE
 * bridge connection whose addresses are the brokers ranked before it, in order, with `round_robin false`.
 * A message that entered a broker through its own bridge never leaves through it again (the bridge's local
 * subscription is no-local, src/bridge.c), so every path a message takes climbs strictly towards rank 1 and
 * then descends strictly: it cannot visit a broker twice in either direction, whatever the parents are at
 * that moment. Two connections per broker would break this: a message could come down one and go up the other.
 */
import { mosquittoTlsLines } from '../tls/policy.js';

export interface BrokerRef {
  name: string;
  address: string;
}

/** Topic every broker's `provision verify` probe uses; bridged too so verify can prove cross-node delivery. */
export const VERIFY_PROBE_FILTER = 'provision/verify/#';

export const BRIDGE_CONNECTION = 'provision-cluster';
/** Bridge keepalive (s): a parent that vanishes without closing TCP is given up after 1.5 × this. */
export const BRIDGE_KEEPALIVE = 10;
/** First reconnect after 1 s, backing off (decorrelated jitter) to at most 10 s (mosquitto's default: 5–30 s). */
export const BRIDGE_RESTART_TIMEOUT = '1 10';

/** The bridge's client id at its parent (and in `$SYS/broker/connection/<id>/state`): unique per broker. */
export function bridgeClientId(host: string): string {
  return `provision-bridge-${host}`;
}

/** The brokers `self` bridges to, primary first: every broker ranked before it. Empty for the first one. */
export function bridgeParents(order: readonly BrokerRef[], self: string): BrokerRef[] {
  const k = order.findIndex((b) => b.name === self);
  return k < 0 ? [] : order.slice(0, k);
}

function levels(filter: string): string[] {
  return filter.split('/');
}

/** A valid MQTT topic filter: `#` only as the last level, `+` and `#` only as whole levels. */
export function isTopicFilter(f: string): boolean {
  if (f.length === 0 || f.length > 65535 || f.includes('\u0000')) return false;
  const ls = levels(f);
  return ls.every((l, i) => (l.includes('#') ? l === '#' && i === ls.length - 1 : !l.includes('+') || l === '+'));
}

/** Whether every topic that filter `b` matches is matched by filter `a` too (`a/#` covers `a/b/+`). */
export function filterCovers(a: string, b: string): boolean {
  const la = levels(a);
  const lb = levels(b);
  for (let i = 0; i < la.length; i++) {
    const x = la[i]!;
    if (x === '#') return true;
    const y = lb[i];
    if (y === undefined) return false;
    if (y === '#') return false;
    if (x === '+') continue;
    if (y === '+' || x !== y) return false;
  }
  return la.length === lb.length;
}

/**
 * Problems with `cluster_bridge_topics`: invalid filters, `$` topics ($SYS and $CONTROL are per broker: bridging
 * $CONTROL would apply one broker's admin commands on all; `#` never matches them, MQTT-4.7.2-1), and filters
 * another one already covers (a message would cross a bridge once per matching filter).
 */
export function checkBridgeTopics(topics: readonly string[]): { index: number; message: string } | undefined {
  for (const [i, t] of topics.entries()) {
    if (!isTopicFilter(t)) return { index: i, message: `an MQTT topic filter ("#" only at the end, "+" and "#" as whole levels), not "${t}"` };
    if (t.startsWith('$')) return { index: i, message: `a topic filter outside the $ topics ($SYS, $CONTROL and $share stay per broker), not "${t}"` };
    if (/\s/.test(t)) return { index: i, message: `a topic filter without spaces (mosquitto.conf's "topic" line takes one word), not "${t}"` };
  }
  for (const [i, t] of topics.entries()) {
    const j = topics.findIndex((o, k) => k !== i && filterCovers(o, t) && (!filterCovers(t, o) || k < i));
    if (j >= 0) return { index: i, message: `topic filters that do not overlap: "${topics[j]}" already covers "${t}"` };
  }
  return undefined;
}

/** The filters bridged: the inventory's, plus verify's probe topic unless one of them covers it. */
export function bridgedFilters(topics: readonly string[]): string[] {
  return topics.some((t) => filterCovers(t, VERIFY_PROBE_FILTER)) ? [...topics] : [...topics, VERIFY_PROBE_FILTER];
}

/** The ACLs the bridge account needs at a parent: publish and receive on each filter, subscribe to exactly it. */
export function bridgeAcls(topics: readonly string[]): { acltype: string; topic: string; allow: true }[] {
  return bridgedFilters(topics).flatMap((topic) => [
    { acltype: 'publishClientSend', topic, allow: true as const },
    { acltype: 'publishClientReceive', topic, allow: true as const },
    { acltype: 'subscribeLiteral', topic, allow: true as const },
  ]);
}

export interface BridgeConfInput {
  self: string;
  /** Every present broker, in inventory order (this one included). */
  order: readonly BrokerRef[];
  /** This broker's primary address: the bridge listener binds it. */
  address: string;
  port: number;
  certDir: string;
  username: string;
  password: string;
  topics: readonly string[];
  /** Return to the first parent when it is back (`round_robin false`); default true. */
  failback?: boolean;
}

function hostPort(address: string, port: number): string {
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}

/** mosquitto.conf lines: the listener the other brokers' bridges reach, and this broker's one bridge connection. */
export function renderBridgeConf(i: BridgeConfInput): string[] {
  const lines = [
    '',
    '# Cluster bridges from the brokers after this one (cluster_routing: bridged): TLS with the cluster CA;',
    '# the firewall admits the other brokers only.',
    `listener ${i.port} ${i.address}`,
    `cafile ${i.certDir}/ca.crt`,
    `certfile ${i.certDir}/server.crt`,
    `keyfile ${i.certDir}/server.key`,
    ...mosquittoTlsLines(),
  ];
  const parents = bridgeParents(i.order, i.self);
  if (parents.length === 0) {
    lines.push('', `# ${i.self} is first in the broker order: the root of the bridge tree, no bridge of its own.`);
    return lines;
  }
  lines.push(
    '',
    `# The one bridge of ${i.self}: to the brokers before it, first reachable one wins (${parents.map((p) => p.name).join(', ')});`,
    '# one connection, so never two parents at once. round_robin false: back to the first one when it answers again.',
    `connection ${BRIDGE_CONNECTION}`,
    `address ${parents.map((p) => hostPort(p.address, i.port)).join(' ')}`,
    // Either way one connection; false = probe the first address every 5 s and return to it (src/bridge.c).
    `round_robin ${i.failback === false}`,
    `remote_clientid ${bridgeClientId(i.self)}`,
    `local_clientid ${bridgeClientId(i.self)}.local`,
    `remote_username ${i.username}`,
    `remote_password ${i.password}`,
    'bridge_protocol_version mqttv311',
    // try_private: the parent marks us a bridge and applies no-local to our subscription (src/handle_subscribe.c).
    'try_private true',
    // No session at any parent: a parent we left must not queue messages for us and replay them later (duplicates).
    'cleansession true',
    // But keep our own side: what is unacknowledged or published while we have no parent is sent to the next
    // parent. With a clean local side, 2.0.11 drops those in-flight messages at reconnect without giving back
    // their send quota (src/database.c, fixed in 2.0.13): after enough silent parent losses QoS 1 stops for good.
    'local_cleansession false',
    'notifications true',
    // State only on this broker ($SYS/broker/connection/<id>/state): the bridge account has no $SYS rights anywhere.
    'notifications_local_only true',
    `keepalive_interval ${BRIDGE_KEEPALIVE}`,
    `restart_timeout ${BRIDGE_RESTART_TIMEOUT}`,
    'start_type automatic',
    `bridge_cafile ${i.certDir}/ca.crt`,
    'bridge_insecure false',
    ...bridgedFilters(i.topics).map((t) => `topic ${t} both 1`),
  );
  return lines;
}
