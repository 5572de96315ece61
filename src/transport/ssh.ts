import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { Client, type ClientChannel, type ConnectConfig } from 'ssh2';
import { BecomeError, CommandError, HostKeyError, ProvisionError, UnreachableError } from '../errors.js';
import type { ConnectionSpec } from '../inventory/connection.js';
import { containsSecret, redact } from '../secrets.js';
import { Semaphore, sleep } from '../util/semaphore.js';
import { appendKnownHost, fingerprint, judgeHostKey, knownHostsName, knownKeysFor, keyTypeOf } from './known-hosts.js';
import { describeScript } from './describe.js';
import { privateKeyFileProblem } from './private-key.js';
import { shq } from './shell-quote.js';
import { SudoHandshake, wrapWithSudo } from './sudo.js';
import type { ExecOptions, ExecResult, Transport } from './types.js';

export interface SshOptions {
  /** Default known_hosts when the inventory names none. */
  knownHostsFile?: string;
  acceptNewHostKeys?: boolean;
  /** Channels open at once on one connection (sshd's MaxSessions defaults to 10). */
  maxChannels?: number;
  connectAttempts?: number;
  /** Connections lost after the first one that are healed by reconnecting; one more and the host is unreachable. */
  maxReconnects?: number;
  /** SSH handshakes in progress at once, shared by every host of a run (default: SSH_HANDSHAKES). */
  handshakes?: Semaphore;
}

/**
 * Handshakes in flight at once, across all hosts, separately from --forks. A handshake is the CPU-heavy part of a
 * connection on both ends (key exchange, signature, sshd forking its session); a storm of them (100 hosts at
 * once) makes every one slow, and each is bounded by its own ready timeout, which only starts once it has a slot.
 * 10 is sshd's default MaxStartups start (10:30:100): through one jump host, more unauthenticated connections at
 * once than that and sshd starts dropping them at random. (Its effect on the 100-host no-op is not measured yet.)
 */
export const SSH_HANDSHAKES = new Semaphore(10);

const DEFAULT_KNOWN_HOSTS = join(homedir(), '.ssh', 'known_hosts');
const HOST_KEY_ALGORITHMS = ['ssh-ed25519', 'ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp384', 'ecdsa-sha2-nistp521', 'rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'] as const;

/** One SSH connection per host for the whole run; every command is a channel on it. */
export class SshTransport implements Transport {
  #client: Client | undefined;
  #jump: Client | undefined;
  /** Clients whose connection is gone (closed, reset, timed out): a channel on one of them died with it. */
  readonly #lost = new WeakSet<Client>();
  /** One reconnect at a time, shared by every command that finds the connection gone. */
  #connecting: Promise<void> | undefined;
  #losses = 0;
  #lastLoss = '';
  #closed = false;
  #roundTrips = 0;
  readonly #channels: Semaphore;
  readonly #knownHosts: string;

  private constructor(
    readonly spec: ConnectionSpec,
    private readonly opts: SshOptions,
  ) {
    this.#channels = new Semaphore(opts.maxChannels ?? 8);
    // The command line (--known-hosts) wins over the inventory, like every option over a variable.
    this.#knownHosts = opts.knownHostsFile ?? spec.knownHostsFile ?? DEFAULT_KNOWN_HOSTS;
  }

  get host(): string {
    return this.spec.host;
  }
  get sshPort(): number {
    return this.spec.port;
  }
  get roundTrips(): number {
    return this.#roundTrips;
  }

  static async connect(spec: ConnectionSpec, opts: SshOptions = {}): Promise<SshTransport> {
    const t = new SshTransport(spec, opts);
    await t.#connectWithRetry();
    return t;
  }

  async #connectWithRetry(): Promise<void> {
    const attempts = this.opts.connectAttempts ?? 3;
    let last: unknown;
    for (let i = 0; i < attempts; i++) {
      try {
        const client = await this.#open();
        if (this.#closed) {
          client.end();
          this.#jump?.end();
          throw new UnreachableError(this.spec.host, 'the connection was closed by provision');
        }
        this.#client = client;
        return;
      } catch (err) {
        last = err;
        if (err instanceof HostKeyError || isAuthFailure(err) || this.#closed) break;
        if (i < attempts - 1) await sleep(300 * 2 ** i);
      }
    }
    if (last instanceof ProvisionError) throw last;
    const why = isAuthFailure(last)
      ? `authentication failed for ${this.spec.user}@${this.spec.address}:${this.spec.port} (check ansible_user / ansible_ssh_private_key_file / ssh-agent)`
      : `${(last as Error)?.message ?? String(last)} (${this.spec.address}:${this.spec.port}, ${attempts} attempts)`;
    throw new UnreachableError(this.spec.host, why);
  }

  async #open(): Promise<Client> {
    let sock: Duplex | undefined;
    this.#jump?.end();
    this.#jump = undefined;
    try {
      if (this.spec.jump) {
        const j = this.spec.jump;
        const jump = (this.#jump = await this.#handshake({ host: j.address, port: j.port, username: j.user, keyPath: j.privateKeyPath, label: `jump host ${j.address}` }));
        const ch = await new Promise<ClientChannel>((resolve, reject) =>
          jump.forwardOut('127.0.0.1', 0, this.spec.address, this.spec.port, (err, c) => (err ? reject(new Error(`jump host ${j.address}: cannot reach ${this.spec.address}:${this.spec.port}: ${err.message}`)) : resolve(c))),
        );
        ch.on('error', () => {}); // the client on top of it sees the close and reports it
        sock = ch;
      }
      return await this.#handshake({ host: this.spec.address, port: this.spec.port, username: this.spec.user, keyPath: this.spec.privateKeyPath, sock, label: this.spec.host });
    } catch (err) {
      this.#jump?.end();
      this.#jump = undefined;
      throw err;
    }
  }

  #handshake(o: { host: string; port: number; username: string; keyPath?: string; sock?: Duplex; label: string }): Promise<Client> {
    return (this.opts.handshakes ?? SSH_HANDSHAKES).with(() => this.#handshakeNow(o));
  }

  #handshakeNow(o: { host: string; port: number; username: string; keyPath?: string; sock?: Duplex; label: string }): Promise<Client> {
    const name = knownHostsName(o.host, o.port);
    let hostKeyProblem: HostKeyError | undefined;
    const known = new Set(knownKeysFor(this.#knownHosts, name).map((k) => k.type));
    const algorithms = [...HOST_KEY_ALGORITHMS].sort((a, b) => Number(known.has(b)) - Number(known.has(a)));
    const config: ConnectConfig = {
      host: o.host,
      port: o.port,
      username: o.username,
      sock: o.sock as ConnectConfig['sock'],
      readyTimeout: this.spec.connectTimeoutMs,
      keepaliveInterval: 10_000,
      keepaliveCountMax: 3,
      algorithms: { serverHostKey: algorithms as unknown as NonNullable<ConnectConfig['algorithms']>['serverHostKey'] },
      hostVerifier: (key: Buffer) => {
        const verdict = judgeHostKey(this.#knownHosts, name, key);
        if (verdict === 'known') return true;
        const fp = fingerprint(key);
        if (verdict === 'unknown' && this.opts.acceptNewHostKeys) {
          appendKnownHost(this.#knownHosts, name, key);
          return true;
        }
        hostKeyProblem =
          verdict === 'unknown'
            ? new HostKeyError(o.label, `unknown host key for ${name} (${keyTypeOf(key)} ${fp}) not in ${this.#knownHosts}. Verify the fingerprint, then re-run with --accept-new-host-keys or add it with: ssh-keyscan -p ${o.port} ${o.host} >> ${this.#knownHosts}`)
            : new HostKeyError(o.label, `HOST KEY CHANGED for ${name}: offered ${keyTypeOf(key)} ${fp}, which does not match ${this.#knownHosts}. This may be a man-in-the-middle attack. If the host was reinstalled, remove the old key with: ssh-keygen -R ${shq(name)} -f ${this.#knownHosts}`);
        return false;
      },
    };
    if (o.keyPath) {
      const problem = privateKeyFileProblem(o.keyPath);
      if (problem) throw new UnreachableError(o.label, `${problem} (ansible_ssh_private_key_file)`);
      config.privateKey = readFileSync(o.keyPath);
    } else if (process.env.SSH_AUTH_SOCK) {
      config.agent = process.env.SSH_AUTH_SOCK;
    } else {
      // As ssh does with its default keys: an unprotected one is passed over.
      const fallback = ['id_ed25519', 'id_ecdsa', 'id_rsa'].map((f) => join(homedir(), '.ssh', f)).find((f) => existsSync(f) && !privateKeyFileProblem(f));
      if (fallback) config.privateKey = readFileSync(fallback);
    }
    return new Promise((resolve, reject) => {
      const c = new Client();
      let settled = false;
      const fail = (err: Error) => {
        if (settled) return;
        settled = true;
        this.#lost.add(c);
        c.destroy();
        reject(hostKeyProblem ?? err);
      };
      // ssh2 can emit 'error' more than once per client (a socket reset, then "Connection lost before
      // handshake"; a handshake timeout, then the close), before or after 'ready'. One listener for the
      // client's whole life: an error event without a listener would end the whole run.
      c.on('error', (err: Error) => {
        if (!settled) fail(err);
        else this.#connectionLost(c, err.message);
      });
      c.once('ready', () => {
        if (settled) return;
        settled = true;
        resolve(c);
      });
      // A close before 'ready' without an error (a server that sent its banner and hung up) would
      // otherwise leave this promise pending forever.
      c.on('close', () => {
        if (!settled) fail(new Error('connection closed during the SSH handshake'));
        else this.#connectionLost(c, 'connection closed');
      });
      c.connect(config);
    });
  }

  /** The connection behind `c` is gone: forget it (the next command reconnects, within the budget). */
  #connectionLost(c: Client, why: string): void {
    if (this.#lost.has(c)) return;
    this.#lost.add(c);
    if (c === this.#jump) {
      this.#jump = undefined;
      this.#client?.destroy(); // it ran over the jump host's connection
    }
    if (c === this.#client) {
      this.#client = undefined;
      this.#losses++;
      this.#lastLoss = why;
    }
    c.destroy();
  }

  async #live(): Promise<Client> {
    if (this.#closed) throw new UnreachableError(this.spec.host, 'the connection was closed by provision');
    if (!this.#client) {
      const budget = this.opts.maxReconnects ?? 5;
      if (this.#losses > budget) throw new UnreachableError(this.spec.host, `connection lost ${this.#losses} times (last: ${this.#lastLoss}); giving up on this host`);
      this.#connecting ??= this.#connectWithRetry().finally(() => (this.#connecting = undefined));
      await this.#connecting;
    }
    if (!this.#client) throw new UnreachableError(this.spec.host, `connection lost (${this.#lastLoss})`);
    return this.#client;
  }

  async #channel(command: string): Promise<{ ch: ClientChannel; client: Client }> {
    for (let attempt = 0; ; attempt++) {
      const client = await this.#live();
      try {
        const ch = await new Promise<ClientChannel>((resolve, reject) => client.exec(command, (err, c) => (err ? reject(err) : resolve(c))));
        return { ch, client };
      } catch (err) {
        // "open failed" = sshd's MaxSessions reached or the connection dropped: back off, reconnect if needed.
        if (attempt >= 4) throw new UnreachableError(this.spec.host, `cannot open a channel: ${(err as Error).message}`);
        await sleep(100 * 2 ** attempt);
      }
    }
  }

  #needsSudo(opts?: ExecOptions): boolean {
    return (opts?.become ?? true) && this.spec.become && !(this.spec.user === this.spec.becomeUser);
  }

  async exec(command: string, opts: ExecOptions = {}): Promise<ExecResult> {
    if (containsSecret(command)) throw new ProvisionError(`refusing to put a secret on a command line on ${this.host}: ${redact(command).slice(0, 120)}`);
    return this.#run(command, opts.input, opts);
  }

  async script(script: string, opts: Omit<ExecOptions, 'input'> = {}): Promise<ExecResult> {
    // With a bound, coreutils' timeout on the host ends the script's whole process group: a signal over the channel
    // reaches only the shell, and a child left running (apt-get waiting on a proxy that hung up) keeps the channel open.
    const bound = opts.timeoutMs ? `timeout -k 5 ${Math.max(1, Math.ceil(opts.timeoutMs / 1000))} ` : '';
    return this.#run(`${bound}sh -c 'eval "$(cat)"'`, `export LC_ALL=C\n${script}\n`, opts, describeScript(script));
  }

  /** `display`: what the command does, for messages (a script's wrapper `sh -c 'eval "$(cat)"'` says nothing). */
  async #run(command: string, input: string | Buffer | undefined, opts: ExecOptions, display = command): Promise<ExecResult> {
    const sudo = this.#needsSudo(opts);
    const full = sudo ? wrapWithSudo(command, this.spec.becomeUser) : command;
    return this.#channels.with(async () => {
      this.#roundTrips++;
      const { ch, client } = await this.#channel(full);
      return new Promise<ExecResult>((resolve, reject) => {
        let stdout = '';
        let stderr = '';
        let failure: string | undefined;
        /** sudo itself said no (a refused or missing become password). */
        let refused: string | undefined;
        const handshake = sudo ? new SudoHandshake(this.spec.becomePassword?.reveal()) : undefined;
        const sendInput = () => {
          if (input !== undefined) ch.end(input);
          else ch.end();
        };
        // The host's own timeout (script) fires first; this one is the backstop, and after a grace period it ends
        // the wait even when the channel never closes, so one stuck host cannot hold up the run.
        let settled = false;
        let grace: NodeJS.Timeout | undefined;
        const timer = opts.timeoutMs
          ? setTimeout(() => {
              failure = `timed out after ${opts.timeoutMs} ms`;
              ch.signal('KILL');
              ch.close();
              grace = setTimeout(() => {
                if (settled) return;
                settled = true;
                reject(new CommandError(redact(display), null, [failure ?? '', redact(stderr)].filter((t) => t.trim()).join('\n'), redact(stdout), this.host));
              }, 10_000);
            }, opts.timeoutMs + 5_000)
          : undefined;
        // Writing to a channel whose connection just died emits 'error'; the close below reports it.
        const onStreamError = (err: Error) => {
          if (!this.#lost.has(client)) failure ??= `channel error: ${err.message}`;
        };
        ch.on('error', onStreamError);
        ch.stderr.on('error', onStreamError);
        ch.on('data', (d: Buffer) => {
          const s = d.toString('utf8');
          stdout += s;
          opts.onOutput?.(s);
        });
        ch.stderr.on('data', (d: Buffer) => {
          let s = d.toString('utf8');
          if (handshake && !handshake.ready) {
            const r = handshake.feed(s);
            if (r.error) {
              refused = r.error;
              ch.close();
              return;
            }
            if (r.write) ch.write(r.write);
            s = r.passthrough;
            if (handshake.ready) sendInput();
          }
          stderr += s;
          if (s) opts.onOutput?.(s);
        });
        ch.on('close', (code: number | null, signal?: string) => {
          if (timer) clearTimeout(timer);
          if (grace) clearTimeout(grace);
          if (settled) return;
          settled = true;
          // coreutils timeout: 124 when it ended the script, 137 when it had to SIGKILL it.
          if (opts.timeoutMs && (code === 124 || code === 137) && !failure && command.startsWith('timeout ')) failure = `timed out after ${opts.timeoutMs} ms`;
          if (code == null && !signal && this.#lost.has(client))
            return reject(new UnreachableError(this.host, `connection lost while running: ${redact(display).split('\n')[0]!.slice(0, 80)}`));
          // sudo refused, or exited before running the command (e.g. "user is not in the sudoers file").
          if (refused || (handshake && !handshake.ready && !failure)) return reject(new BecomeError(this.host, refused ?? (redact(handshake!.leftover().trim()) || `sudo exited with ${code}`)));
          if (failure) return reject(new CommandError(redact(display), code, [failure, redact(stderr)].filter((t) => t.trim()).join('\n'), redact(stdout), this.host));
          resolve({ stdout, stderr, code: code ?? (signal ? 128 : 255) });
        });
        if (!handshake) sendInput();
      });
    });
  }

  async forward(host: string, port: number): Promise<Duplex> {
    const client = await this.#live();
    this.#roundTrips++;
    return new Promise((resolve, reject) =>
      client.forwardOut('127.0.0.1', 0, host, port, (err, ch) => {
        if (err && this.#lost.has(client)) return reject(new UnreachableError(this.host, `connection lost while opening a forward to ${host}:${port}`));
        if (err) return reject(new CommandError(`forward to ${host}:${port}`, null, err.message, '', this.host));
        // The consumer (an MQTT or HTTP client) gets every error too; this listener only keeps an error
        // nobody listens for (after the consumer let go of the stream) from ending the run.
        ch.on('error', () => {});
        // A direct-tcpip channel is half-open by default: when the remote side closes (a broker kicking a
        // client), end ours too so the channel closes and the client sees it at once instead of timing out.
        ch.once('end', () => ch.end());
        resolve(ch);
      }),
    );
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#client?.end();
    this.#jump?.end();
    this.#client = undefined;
    this.#jump = undefined;
  }
}

function isAuthFailure(err: unknown): boolean {
  return err instanceof Error && /All configured authentication methods failed/i.test(err.message);
}
