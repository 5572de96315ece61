/**
 * haproxy.cfg for the load balancers in front of the Mosquitto brokers (HAProxy 2.6, Debian 12).
 *
 * The rendered file holds the health-check user's password (as hex inside `tcp-check send-binary`):
 * install it as `/etc/haproxy/haproxy.cfg` owned **root:haproxy, mode 0640**, and validate it with
 * `haproxy -c -f <file>` before `systemctl reload haproxy`.
 *
 * Rendering is pure and deterministic: the same input gives a byte-identical file (idempotent runs
 * compare it with the installed one to decide whether a reload is needed). Nothing here reads the
 * clock, the environment or the file system.
 */
import { InputError } from '../errors.js';
import { registerSecretValue, type Secret } from '../secrets.js';
import { CONNACK_ACCEPTED_HEX, MQTT_DISCONNECT, mqttConnectPacket } from './mqtt-packets.js';
import { HAPROXY_MIN_VERSION, haproxyTlsGlobals } from '../tls/policy.js';

export interface HaproxyEndpoint {
  address: string;
  port: number;
}

export interface HaproxyServer extends HaproxyEndpoint {
  /** HAProxy server name (letters, digits, `_ . : -`); shows in logs, stats and metrics. */
  name: string;
}

/**
 * Where the process keeps its runtime files. The defaults are those of Debian 12's haproxy package
 * (its systemd unit bind-mounts /dev/log into the chroot and creates /run/haproxy); tests and other
 * distributions override them.
 */
export interface HaproxyRuntime {
  /** Admin socket (level admin, `expose-fd listeners`). Default `/run/haproxy/admin.sock`. */
  statsSocketPath?: string;
  /** Chroot directory, or `null` for none. Default `/var/lib/haproxy`. */
  chroot?: string | null;
  /** User to drop to after binding, or `null` to keep the starting user. Default `haproxy`. */
  user?: string | null;
  /** Group to drop to, or `null`. Default `haproxy`. */
  group?: string | null;
  /** Global `log` lines' targets and facilities. Default Debian's: `/dev/log local0` and `/dev/log local1 notice`. */
  log?: string[];
}

export interface HaproxyConfigInput {
  /**
   * `active-passive`: the first server takes every client, the others are `backup` (only the first
   * healthy backup is used — `option allbackups` is deliberately not set — so all clients meet on
   * one broker). `active-active`: `balance leastconn` with client stickiness in a stick table
   * shared between load balancers through `peers`.
   */
  mode: 'active-active' | 'active-passive';
  /** TLS listeners for clients (typically the VIP and/or the host's address, port 8883). */
  bind: HaproxyEndpoint[];
  /** PEM holding the server certificate (and chain) followed by its private key. */
  tlsPemPath: string;
  /** When set: client certificates are requested (`verify optional`) and, if sent, verified against this CA. */
  caPath?: string;
  /** Brokers' plain-TCP private listeners, in order of preference (the first one is active in active-passive). */
  servers: HaproxyServer[];
  /** MQTT user the health check logs in as; `clientId` must be unique per load balancer. */
  healthCheck: { username: string; password: Secret; clientId: string };
  /** Stick-table replication between load balancers (used in active-active with ≥ 2 members). */
  peers?: { localName: string; members: HaproxyServer[] };
  /** Largest MQTT keep-alive (s) clients may use: idle timeouts are set above 1.5× this, so the broker, not HAProxy, decides. */
  maxKeepaliveSeconds: number;
  /** Plain-HTTP listener for `/metrics` (Prometheus) and `/stats`; bind it to a private address. */
  metrics?: HaproxyEndpoint;
  /**
   * Global and frontend `maxconn`. Unset: no `maxconn` line, HAProxy derives it from the file
   * descriptor limit (ulimit -n) of the host. When set, HAProxy needs about 2 × N + a few dozen
   * descriptors and refuses to start below that ("Cannot raise FD limit").
   */
  maxConnections?: number;
  /** Stickiness key in active-active (default `client_identifier`, which keeps persistent sessions on one broker). */
  stickOn?: 'client_identifier' | 'username';
  runtime?: HaproxyRuntime;
}

/** Health-check and failover timing, tuned to move clients to a healthy broker within ~2 s. */
export const HAPROXY_CHECK_TIMING = {
  inter: '500ms',
  fastinter: '250ms',
  downinter: '1s',
  fall: 2,
  rise: 2,
  timeoutCheck: '1s',
  timeoutConnect: '2s',
  retries: 2,
} as const;

export const HAPROXY_BACKEND_NAME = 'brokers';
export const HAPROXY_FRONTEND_NAME = 'mqtt_tls';
export const HAPROXY_PEERS_SECTION = 'lb_peers';


/** Idle timeout for client and server sides: MQTT brokers drop a silent client after 1.5× its keep-alive. */
export function mqttIdleTimeoutSeconds(maxKeepaliveSeconds: number): number {
  return Math.ceil(maxKeepaliveSeconds * 1.5) + 30;
}

/** Largest health-check CONNECT accepted: far below HAProxy's check buffer (tune.bufsize, 16 KiB). */
export const MAX_HEALTH_CHECK_PACKET_BYTES = 4096;

/** The line of haproxy.cfg that holds the health-check password (CONNECT, type 0x10): masked in diffs. */
export const HEALTH_CHECK_SECRET_LINE = /^(\s*tcp-check send-binary )10[0-9a-f]*\s*$/;

/**
 * The bytes HAProxy sends as its health check, as lowercase hex. The password's hex form is
 * registered as a secret value, so `redact()` masks it in diffs and logs of the rendered file.
 */
export function healthCheckConnectHex(hc: HaproxyConfigInput['healthCheck']): string {
  registerSecretValue(Buffer.from(hc.password.reveal(), 'utf8').toString('hex'), { inside: true });
  let packet: Buffer;
  try {
    packet = mqttConnectPacket({ clientId: hc.clientId, username: hc.username, password: hc.password });
  } catch (e) {
    if (e instanceof RangeError) fail(e.message, 'haproxy.healthCheck');
    throw e;
  }
  if (packet.length > MAX_HEALTH_CHECK_PACKET_BYTES) {
    fail(`health-check CONNECT is ${packet.length} bytes (user name/password too long, max ${MAX_HEALTH_CHECK_PACKET_BYTES})`, 'haproxy.healthCheck');
  }
  return packet.toString('hex');
}

const NAME_RE = /^[A-Za-z0-9_.:-]+$/;
const ADDRESS_RE = /^[A-Za-z0-9_.:%*-]+$/;
const PATH_RE = /^\/[^\s"'#\\]*$/;

function fail(problem: string, path: string): never {
  throw new InputError(problem, undefined, undefined, undefined, path);
}

function checkName(v: string, path: string): void {
  if (!NAME_RE.test(v)) fail(`invalid name ${JSON.stringify(v)} (letters, digits, "_", ".", ":", "-")`, path);
}

function checkEndpoint(e: HaproxyEndpoint, path: string): void {
  const addr = stripBrackets(e.address);
  if (!ADDRESS_RE.test(addr)) fail(`invalid address ${JSON.stringify(e.address)}`, `${path}.address`);
  if (!Number.isInteger(e.port) || e.port < 1 || e.port > 65535) fail(`invalid port ${e.port}`, `${path}.port`);
}

function checkPath(v: string, path: string): void {
  if (!PATH_RE.test(v)) fail(`expected an absolute path without spaces, quotes or "#", got ${JSON.stringify(v)}`, path);
}

function stripBrackets(address: string): string {
  return address.startsWith('[') && address.endsWith(']') ? address.slice(1, -1) : address;
}

/** HAProxy takes the port after the last colon, so IPv6 addresses are written bare: `::1:8883`. */
function hostPort(e: HaproxyEndpoint): string {
  return `${stripBrackets(e.address)}:${e.port}`;
}

function validate(i: HaproxyConfigInput): void {
  if (i.mode !== 'active-active' && i.mode !== 'active-passive') fail(`unknown mode ${JSON.stringify(i.mode)}`, 'haproxy.mode');
  if (i.bind.length === 0) fail('at least one bind address is required', 'haproxy.bind');
  i.bind.forEach((b, n) => checkEndpoint(b, `haproxy.bind[${n}]`));
  checkPath(i.tlsPemPath, 'haproxy.tlsPemPath');
  if (i.caPath !== undefined) checkPath(i.caPath, 'haproxy.caPath');
  if (i.servers.length === 0) fail('at least one broker is required', 'haproxy.servers');
  const seen = new Set<string>();
  i.servers.forEach((s, n) => {
    checkName(s.name, `haproxy.servers[${n}].name`);
    checkEndpoint(s, `haproxy.servers[${n}]`);
    if (seen.has(s.name)) fail(`duplicate server name ${JSON.stringify(s.name)}`, `haproxy.servers[${n}].name`);
    seen.add(s.name);
  });
  if (!Number.isInteger(i.maxKeepaliveSeconds) || i.maxKeepaliveSeconds < 1 || i.maxKeepaliveSeconds > 65535) {
    fail(`maxKeepaliveSeconds must be an integer in 1..65535, got ${i.maxKeepaliveSeconds}`, 'haproxy.maxKeepaliveSeconds');
  }
  if (i.maxConnections !== undefined && (!Number.isInteger(i.maxConnections) || i.maxConnections < 1)) {
    fail(`maxConnections must be a positive integer, got ${i.maxConnections}`, 'haproxy.maxConnections');
  }
  if (i.metrics) checkEndpoint(i.metrics, 'haproxy.metrics');
  if (!/^[\x21-\x7e]+$/.test(i.healthCheck.clientId)) {
    fail('health-check client id must be printable ASCII without spaces', 'haproxy.healthCheck.clientId');
  }
  if (/[\x00-\x1f\x7f]/.test(i.healthCheck.username)) {
    fail('health-check user name must not contain control characters', 'haproxy.healthCheck.username');
  }
  if (i.stickOn !== undefined && i.stickOn !== 'client_identifier' && i.stickOn !== 'username') {
    fail(`stickOn must be "client_identifier" or "username"`, 'haproxy.stickOn');
  }
  if (i.peers) {
    checkName(i.peers.localName, 'haproxy.peers.localName');
    const names = new Set<string>();
    i.peers.members.forEach((m, n) => {
      checkName(m.name, `haproxy.peers.members[${n}].name`);
      checkEndpoint(m, `haproxy.peers.members[${n}]`);
      if (names.has(m.name)) fail(`duplicate peer name ${JSON.stringify(m.name)}`, `haproxy.peers.members[${n}].name`);
      names.add(m.name);
    });
    // HAProxy silently drops ("Removing incomplete section") a peers section without the local peer.
    if (!names.has(i.peers.localName)) {
      fail(`local peer ${JSON.stringify(i.peers.localName)} is not among the peers' members`, 'haproxy.peers.localName');
    }
  }
  const rt = i.runtime ?? {};
  if (rt.statsSocketPath !== undefined) checkPath(rt.statsSocketPath, 'haproxy.runtime.statsSocketPath');
  if (rt.chroot) checkPath(rt.chroot, 'haproxy.runtime.chroot');
  if (rt.user && !NAME_RE.test(rt.user)) fail('invalid user', 'haproxy.runtime.user');
  if (rt.group && !NAME_RE.test(rt.group)) fail('invalid group', 'haproxy.runtime.group');
  for (const l of rt.log ?? []) if (/[\n#]/.test(l) || l.trim() === '') fail('invalid log target', 'haproxy.runtime.log');
}

/** True when the rendered file has a `peers` section (active-active with at least two load balancers). */
export function usesPeers(i: HaproxyConfigInput): boolean {
  return i.mode === 'active-active' && (i.peers?.members.length ?? 0) >= 2;
}

/**
 * Renders a complete haproxy.cfg. Throws `InputError` on values that would produce a broken or
 * ambiguous file. The result contains the health-check password (hex-encoded): install it
 * root:haproxy 0640.
 */
export function renderHaproxyConfig(i: HaproxyConfigInput): string {
  validate(i);
  const rt = i.runtime ?? {};
  const statsSocket = rt.statsSocketPath ?? '/run/haproxy/admin.sock';
  const chroot = rt.chroot === undefined ? '/var/lib/haproxy' : rt.chroot;
  const user = rt.user === undefined ? 'haproxy' : rt.user;
  const group = rt.group === undefined ? 'haproxy' : rt.group;
  const logs = rt.log ?? ['/dev/log local0', '/dev/log local1 notice'];
  const maxconn = i.maxConnections;
  const idle = mqttIdleTimeoutSeconds(i.maxKeepaliveSeconds);
  const peers = usesPeers(i) ? i.peers : undefined;
  const aa = i.mode === 'active-active';
  const t = HAPROXY_CHECK_TIMING;

  const out: string[] = [];
  const line = (s = ''): void => {
    out.push(s);
  };
  const kw = (s: string): void => line(`    ${s}`);
  const comment = (s: string): void => line(`    # ${s}`);

  line('# Generated by provision: do not edit, changes are overwritten on the next run.');
  line(`# HAProxy 2.6 in front of the Mosquitto brokers, mode ${i.mode}.`);
  line('# Holds the MQTT health-check credentials (hex): keep this file root:haproxy 0640.');
  line();

  line('global');
  for (const l of logs) kw(`log ${l}`);
  if (chroot) kw(`chroot ${chroot}`);
  if (user) kw(`user ${user}`);
  if (group) kw(`group ${group}`);
  comment('No "daemon": systemd starts "haproxy -Ws" (master-worker, Type=notify).');
  comment('expose-fd listeners: on "systemctl reload haproxy" (USR2) the new worker takes the');
  comment('listening sockets over from the old one, so no connection attempt is refused.');
  kw(`stats socket ${statsSocket} mode 660 level admin expose-fd listeners`);
  kw('stats timeout 30s');
  if (maxconn !== undefined) kw(`maxconn ${maxconn}`);
  else comment('No maxconn: HAProxy derives it from the file descriptor limit (systemd LimitNOFILE).');
  comment('MQTT connections live for hours: after a reload the old worker keeps serving them,');
  comment('and is stopped at the latest after this delay (its clients then reconnect).');
  kw('hard-stop-after 30m');
  if (peers) {
    comment('Must match a "peer" line below, or HAProxy drops the whole peers section.');
    kw(`localpeer ${peers.localName}`);
  }
  comment('TLS: the one policy of src/tls/policy.ts (also on the brokers): TLS 1.2+, AEAD ciphers only.');
  for (const l of haproxyTlsGlobals()) kw(l);
  line();

  line('defaults');
  kw('mode tcp');
  kw('log global');
  kw('option tcplog');
  kw('option dontlognull');
  comment('TCP keep-alive on both sides: detect peers that vanished without a FIN.');
  kw('option clitcpka');
  kw('option srvtcpka');
  kw(`timeout connect ${t.timeoutConnect}`);
  comment(`Idle timeouts above 1.5 x the largest MQTT keep-alive (${i.maxKeepaliveSeconds}s): the broker decides`);
  comment('when a silent client is dead, HAProxy never cuts a healthy one.');
  kw(`timeout client ${idle}s`);
  kw(`timeout server ${idle}s`);
  kw(`timeout check ${t.timeoutCheck}`);
  line();

  if (peers) {
    line(`# Replicates the stick table between load balancers, so a client lands on the same broker`);
    line(`# whichever load balancer (VIP owner) it goes through.`);
    line(`peers ${HAPROXY_PEERS_SECTION}`);
    for (const m of peers.members) kw(`peer ${m.name} ${hostPort(m)}`);
    line();
  }

  line(`frontend ${HAPROXY_FRONTEND_NAME}`);
  comment('TLS terminates here; the brokers are reached on their plain private listener.');
  for (const b of i.bind) {
    const ca = i.caPath ? ` ca-file ${i.caPath} verify optional` : '';
    kw(`bind ${hostPort(b)} ssl crt ${i.tlsPemPath} ssl-min-ver ${HAPROXY_MIN_VERSION}${ca}`);
  }
  if (maxconn !== undefined) kw(`maxconn ${maxconn}`);
  comment('Only MQTT gets through: wait (at most 5s) for a complete, valid CONNECT packet.');
  kw('tcp-request inspect-delay 5s');
  kw('tcp-request content reject unless { req.payload(0,0),mqtt_is_valid }');
  kw(`default_backend ${HAPROXY_BACKEND_NAME}`);
  line();

  line(`backend ${HAPROXY_BACKEND_NAME}`);
  if (aa) {
    kw('balance leastconn');
    const key = i.stickOn ?? 'client_identifier';
    const sample = `req.payload(0,0),mqtt_field_value(connect,${key})`;
    comment(`Stickiness on the CONNECT's ${key}: HAProxy parses only the first packet.`);
    kw(`stick-table type string len 64 size 100k expire 30m${peers ? ` peers ${HAPROXY_PEERS_SECTION}` : ''}`);
    kw(`stick on ${sample} unless { ${sample} -m len 0 }`);
  } else {
    comment('Active-passive: every client on the first server; when it is down, on the first healthy');
    comment('backup only ("option allbackups" is deliberately not set).');
    kw('balance first');
  }
  comment('A connection refused by a dead broker not yet marked down is retried (1s later, "retries"),');
  comment('each retry free to pick another server ("redispatch 1"): by then the dead one is marked down.');
  kw('option redispatch 1');
  kw(`retries ${t.retries}`);
  comment(`MQTT health check: log in as "${i.healthCheck.username}" (client id "${i.healthCheck.clientId}"),`);
  comment('expect CONNACK "accepted", then DISCONNECT. A broker that is up but refuses logins is down.');
  kw('option tcp-check');
  kw('tcp-check connect');
  kw(`tcp-check send-binary ${healthCheckConnectHex(i.healthCheck)}`);
  kw(`tcp-check expect binary ${CONNACK_ACCEPTED_HEX}`);
  kw(`tcp-check send-binary ${MQTT_DISCONNECT.toString('hex')}`);
  const onMarked = ['on-marked-down shutdown-sessions'];
  if (!aa) onMarked.push('on-marked-up shutdown-backup-sessions');
  comment('Fast failure detection: down after 2 failed checks (500ms, then 250ms apart); sessions on');
  comment('a server marked down are cut so their clients reconnect at once to a healthy one.');
  if (!aa) comment('When the active broker is back, clients on the backup are moved back to it.');
  kw(
    `default-server check inter ${t.inter} fastinter ${t.fastinter} downinter ${t.downinter} fall ${t.fall} rise ${t.rise} ${onMarked.join(' ')}`,
  );
  comment('Every broker of the inventory is listed: the file is regenerated (and HAProxy reloaded');
  comment('seamlessly) when brokers are added or removed, instead of DNS-resolved server-template slots.');
  i.servers.forEach((s, n) => {
    kw(`server ${s.name} ${hostPort(s)}${!aa && n > 0 ? ' backup' : ''}`);
  });

  if (i.metrics) {
    line();
    line('frontend stats');
    comment('Prometheus metrics on /metrics, human stats page on /stats: bind to a private address.');
    kw(`bind ${hostPort(i.metrics)}`);
    kw('mode http');
    comment('Log only failed requests (scrapes every few seconds would flood the log).');
    kw('option httplog');
    kw('option dontlog-normal');
    kw('timeout client 30s');
    kw('http-request use-service prometheus-exporter if { path /metrics }');
    kw('stats enable');
    kw('stats uri /stats');
    kw('stats refresh 10s');
  }
  line();
  return out.join('\n');
}
