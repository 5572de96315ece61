/**
 * Request/response client for Mosquitto-style `$CONTROL/<api>/v1` JSON APIs
 * (dynamic-security, cedalo/ha, …) over one MQTT connection.
 *
 * - Publishes `{"commands":[…]}` to `<prefix>/<api>/v1` and reads `{"responses":[…]}` on
 *   `<prefix>/<api>/v1/response`; it subscribes to the response topic before the first publish.
 * - Every command gets a random `correlationData`; responses are matched by it (they are
 *   broadcast to EVERY subscriber at QoS 0, so other admins' responses are ignored).
 * - `stream` lets the connection run over any Duplex (an SSH direct-tcpip channel to the
 *   broker's 127.0.0.1 listener); `ca` then wraps it in TLS.
 * - Passwords are `Secret`s: they are revealed only into the CONNECT packet and into the
 *   JSON payload of a request (commands may hold `Secret` values, revealed at serialisation);
 *   errors name commands, never their arguments.
 * - The dynamic-security plugin KICKS a connected client whose client/role/group record is
 *   changed (even `modifyClient` of its own textdescription) — responses of that request are
 *   then lost. Pending requests fail fast with `ControlConnectionLostError` and the next
 *   `request()` reconnects transparently.
 */
import { randomUUID } from 'node:crypto';
import type { Duplex } from 'node:stream';
import * as tls from 'node:tls';
import { MqttClient, connect as mqttConnect, type IClientOptions } from 'mqtt';
import { StepError } from '../errors.js';
import { Secret, redact } from '../secrets.js';

export interface ControlResponse {
  command: string;
  correlationData?: string;
  /** Present only when the command failed: the broker's error text. */
  error?: string;
  data?: any;
  [key: string]: unknown;
}

export interface ControlConnectOptions {
  /** `mqtt://127.0.0.1:1885`, `mqtts://…`. Ignored when `stream` is given. */
  url?: string;
  /** Builds the transport stream (e.g. an SSH-forwarded TCP channel). Called again on reconnect. */
  stream?: () => Duplex | Promise<Duplex>;
  username: string;
  password: Secret;
  /** CA bundle: with `url` for mqtts, with `stream` it turns on TLS over the stream. */
  ca?: Buffer;
  servername?: string;
  clientId?: string;
  /** Connect timeout and default per-request timeout (default 10 s). */
  timeoutMs?: number;
  /**
   * Topic prefix of the control APIs (default `$CONTROL`). Stock Mosquitto 2.0 swallows every
   * client publish to `$CONTROL/…` that no plugin handles, so an API emulated by an ordinary
   * MQTT client (the Cedalo HA simulator in tests) must live under another prefix.
   */
  controlPrefix?: string;
  /** Names the endpoint in messages (e.g. the inventory host); default: the url, or "stream". */
  label?: string;
  /** Log hook for debugging; receives no secrets. */
  log?: (line: string) => void;
}

/** The broker refused or dropped the connection attempt. `reasonCode` is the CONNACK code (5 = not authorised). */
export class ControlConnectError extends StepError {
  constructor(message: string, readonly reasonCode?: number, options?: ErrorOptions) {
    super(message, options);
  }
}

/** No (complete) answer within the timeout. */
export class ControlTimeoutError extends StepError {}

/** The connection closed while responses were pending (e.g. the broker kicked the admin after changing its roles). */
export class ControlConnectionLostError extends StepError {}

const DEFAULT_TIMEOUT_MS = 10_000;

interface Pending {
  ids: Map<string, number>;
  results: (ControlResponse | undefined)[];
  remaining: number;
  resolve(r: ControlResponse[]): void;
  reject(e: Error): void;
  timer: NodeJS.Timeout;
  names: string;
}

export class ControlClient {
  #mqtt: MqttClient | undefined;
  #subscribed = new Set<string>();
  #pending = new Set<Pending>();
  #byId = new Map<string, Pending>();
  #closed = false;
  #connecting: Promise<void> | undefined;
  #password: Secret;

  private constructor(private readonly opts: ControlConnectOptions) {
    this.#password = opts.password;
  }

  static async connect(o: ControlConnectOptions): Promise<ControlClient> {
    if (!o.url && !o.stream) throw new ControlConnectError('ControlClient.connect needs a url or a stream');
    const c = new ControlClient(o);
    await c.#ensureConnected();
    return c;
  }

  /** The user this session authenticates as. */
  get username(): string {
    return this.opts.username;
  }

  get controlPrefix(): string {
    return this.opts.controlPrefix ?? '$CONTROL';
  }

  get endpoint(): string {
    return this.opts.label ?? this.opts.url ?? 'stream';
  }

  get connected(): boolean {
    return !!this.#mqtt?.connected;
  }

  /** Use another password for later (re)connections, e.g. after rotating the session user's own password. */
  setPassword(password: Secret): void {
    this.#password = password;
  }

  /**
   * Sends `commands` in ONE message to `<prefix>/<api>/v1` and resolves with one response per
   * command, in command order. Command failures are responses with `error`; only transport
   * problems (timeout, connection lost, not connected) reject.
   */
  async request(api: string, commands: object[], opts: { timeoutMs?: number } = {}): Promise<ControlResponse[]> {
    if (this.#closed) throw new StepError(`control client for ${this.endpoint} is closed`);
    if (commands.length === 0) return [];
    await this.#ensureConnected();
    const client = this.#mqtt!;
    const base = `${this.controlPrefix}/${api}/v1`;
    const responseTopic = `${base}/response`;
    if (!this.#subscribed.has(responseTopic)) {
      try {
        const grants = await client.subscribeAsync(responseTopic, { qos: 0 });
        if (grants.some((g) => g.qos === 128)) throw new Error('subscription refused (SUBACK 0x80): check the admin role ACLs');
      } catch (e) {
        throw new StepError(
          `cannot subscribe to ${responseTopic} on ${this.endpoint}: ${redact((e as Error).message)}` +
            ` (does ${this.username} have subscribe and publishClientReceive rights on ${this.controlPrefix}/${api}/#?)`,
        );
      }
      this.#subscribed.add(responseTopic);
    }

    const reqId = randomUUID();
    const names = describeCommands(commands);
    const payload = commands.map((c, i) => ({ ...c, correlationData: `${reqId}:${i}` }));
    const timeoutMs = opts.timeoutMs ?? this.opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;

    let pending!: Pending;
    const result = new Promise<ControlResponse[]>((resolve, reject) => {
      const p: Pending = (pending = {
        ids: new Map(payload.map((c, i) => [c.correlationData, i])),
        results: new Array(commands.length).fill(undefined),
        remaining: commands.length,
        resolve,
        reject,
        names,
        timer: setTimeout(() => {
          this.#drop(p);
          const missing = payload.filter((_, i) => p.results[i] === undefined).map((c) => (c as { command?: string }).command ?? '?');
          reject(
            new ControlTimeoutError(
              `no response from ${base} on ${this.endpoint} within ${timeoutMs} ms for ${names}` +
                (missing.length < commands.length ? ` (missing: ${missing.join(', ')})` : ''),
            ),
          );
        }, timeoutMs),
      });
      this.#pending.add(p);
      for (const id of p.ids.keys()) this.#byId.set(id, p);
    });

    try {
      await client.publishAsync(base, serialize({ commands: payload }), { qos: 0 });
    } catch (e) {
      if (this.#pending.has(pending)) {
        this.#fail(pending, new ControlConnectionLostError(`cannot publish ${names} to ${base} on ${this.endpoint}: ${redact((e as Error).message)}`));
      }
    }
    return result;
  }

  async close(): Promise<void> {
    this.#closed = true;
    for (const p of [...this.#pending]) this.#fail(p, new ControlConnectionLostError(`control client closed while waiting for ${p.names}`));
    const c = this.#mqtt;
    this.#mqtt = undefined;
    if (c) await c.endAsync(true).catch(() => undefined);
  }

  #drop(p: Pending): void {
    clearTimeout(p.timer);
    this.#pending.delete(p);
    for (const id of p.ids.keys()) this.#byId.delete(id);
  }

  #fail(p: Pending, e: Error): void {
    this.#drop(p);
    p.reject(e);
  }

  #onMessage(_topic: string, message: Buffer): void {
    let parsed: unknown;
    try {
      parsed = JSON.parse(message.toString('utf8'));
    } catch {
      return;
    }
    const responses = (parsed as { responses?: unknown })?.responses;
    if (!Array.isArray(responses)) return;
    for (const r of responses) {
      if (!r || typeof r !== 'object') continue;
      const id = (r as ControlResponse).correlationData;
      if (typeof id !== 'string') continue;
      const p = this.#byId.get(id);
      if (!p) continue;
      const idx = p.ids.get(id)!;
      if (p.results[idx] !== undefined) continue;
      const resp = r as ControlResponse;
      if (typeof resp.error === 'string') resp.error = redact(resp.error);
      p.results[idx] = resp;
      p.remaining--;
      if (p.remaining === 0) {
        this.#drop(p);
        p.resolve(p.results as ControlResponse[]);
      }
    }
  }

  #onClose(client: MqttClient): void {
    if (this.#mqtt !== client) return;
    this.#mqtt = undefined;
    this.#subscribed.clear();
    for (const p of [...this.#pending]) {
      this.#fail(
        p,
        new ControlConnectionLostError(
          `connection to ${this.endpoint} closed before the responses to ${p.names} arrived` +
            ' (the dynamic-security plugin disconnects a client whose own client, role or group is modified)',
        ),
      );
    }
    this.opts.log?.(`control connection to ${this.endpoint} closed`);
  }

  async #ensureConnected(): Promise<void> {
    if (this.#mqtt?.connected) return;
    if (!this.#connecting) {
      this.#connecting = this.#open().finally(() => {
        this.#connecting = undefined;
      });
    }
    return this.#connecting;
  }

  async #open(): Promise<void> {
    const o = this.opts;
    const timeoutMs = o.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const options: IClientOptions = {
      username: o.username,
      password: this.#password.reveal(),
      clientId: o.clientId ?? `provision-${randomUUID().slice(0, 8)}`,
      protocolVersion: 4,
      clean: true,
      reconnectPeriod: 0,
      connectTimeout: timeoutMs,
      keepalive: 30,
      resubscribe: false,
    };
    if (o.ca) options.ca = o.ca;
    if (o.servername) options.servername = o.servername;

    let client: MqttClient;
    if (o.stream) {
      let raw: Duplex;
      try {
        raw = await o.stream();
      } catch (e) {
        throw new ControlConnectError(`cannot open a stream to the broker: ${redact((e as Error).message)}`, undefined, { cause: e });
      }
      const stream: Duplex = o.ca ? tls.connect({ socket: raw, ca: o.ca, servername: o.servername }) : raw;
      client = new MqttClient(() => stream, options);
    } else {
      client = mqttConnect(o.url!, options);
    }

    await new Promise<void>((resolve, reject) => {
      let settled = false;
      const done = (e?: Error) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        client.removeListener('connect', onConnect);
        if (e) {
          client.removeAllListeners('error');
          client.on('error', () => undefined);
          client.end(true);
          reject(e);
        } else resolve();
      };
      const timer = setTimeout(
        () => done(new ControlConnectError(`timed out after ${timeoutMs} ms connecting to ${this.endpoint} as ${o.username}`)),
        timeoutMs + 500,
      );
      const onConnect = () => done();
      client.once('connect', onConnect);
      client.on('error', (e: Error & { code?: unknown }) => {
        if (settled) {
          o.log?.(`control connection to ${this.endpoint}: ${redact(e.message)}`);
          return;
        }
        const code = typeof e.code === 'number' ? e.code : undefined;
        done(
          new ControlConnectError(
            `cannot connect to ${this.endpoint} as ${o.username}: ${redact(e.message)}${code !== undefined ? ` (CONNACK ${code})` : ''}`,
            code,
          ),
        );
      });
      client.once('close', () => done(new ControlConnectError(`connection to ${this.endpoint} closed during the MQTT handshake (as ${o.username})`)));
    });

    client.on('message', (t, m) => this.#onMessage(t, m));
    client.on('close', () => this.#onClose(client));
    this.#subscribed.clear();
    this.#mqtt = client;
    if (this.#closed) await this.close();
  }
}

/** `createClient(bob), addRoleACL(sensors) …` — names and targets only, never arguments such as passwords. */
export function describeCommands(commands: object[]): string {
  const parts = commands.map((c) => {
    const r = c as Record<string, unknown>;
    const target = ['username', 'rolename', 'groupname', 'clustername', 'nodeid']
      .map((k) => r[k])
      .find((v) => typeof v === 'string' || typeof v === 'number');
    return `${String(r.command ?? '?')}${target !== undefined ? `(${String(target)})` : ''}`;
  });
  const shown = parts.slice(0, 12).join(', ');
  return parts.length > 12 ? `${shown}, … (${parts.length} commands)` : shown;
}

/** JSON with `Secret` values revealed (Secret#toJSON masks them, so look at the raw holder value). */
export function serialize(value: unknown): string {
  return JSON.stringify(value, function (this: Record<string, unknown>, key: string, v: unknown) {
    const raw = key === '' ? v : this[key];
    return raw instanceof Secret ? raw.reveal() : v;
  });
}
