/**
 * Cross-host coordination within one run, typed. A role declares a key once (`signal<T>('…')`); a host posts its
 * value under it when it reaches that point; other hosts await the values of a set of hosts (a barrier) or the
 * first one (a run-once step's result). Waits are woken by a post or by a host failing — never by polling — and
 * end with an error naming the hosts that failed before they posted, or with a timeout.
 *
 * `store` is the run's typed scratch space for state that is not a wait (e.g. the files written per host, for
 * rollback): a key with its initial value, so nothing is read back as `unknown`.
 */

/** A value hosts post for each other, per play (a key made once, at module level, by the role that uses it). */
export interface Signal<T> {
  readonly name: string;
  /** Only carries T for the compiler. */
  readonly _value?: T;
}

export function signal<T>(name: string): Signal<T> {
  return { name };
}

/** Run-wide state under a typed key, created on first use. */
export interface StoreKey<T> {
  readonly name: string;
  readonly init: () => T;
}

export function storeKey<T>(name: string, init: () => T): StoreKey<T> {
  return { name, init };
}

export class PeersFailedError extends Error {
  constructor(
    readonly hosts: string[],
    what: string,
  ) {
    super(`${hosts.join(', ')} failed earlier in this run, before ${what}`);
  }
}

export class WaitTimeoutError extends Error {
  constructor(
    readonly hosts: string[],
    what: string,
    seconds: number,
  ) {
    super(`timed out after ${seconds} s waiting for ${what} on ${hosts.join(', ')}`);
  }
}

export interface WaitOptions {
  timeoutMs: number;
  /** In messages: what is being waited for ("the HA API grant"). */
  what?: string;
}

export class Coordination {
  private readonly posts = new Map<string, Map<string, unknown>>();
  private readonly stores = new Map<string, unknown>();
  private readonly wakers = new Set<() => void>();

  /** `failed(host)`: whether a host has failed or is unreachable in this run (the engine's record). */
  constructor(private readonly failed: (host: string) => boolean) {}

  /** Posts this host's value in `scope` (a play's name): wakes everyone waiting on the signal. */
  post<T>(sig: Signal<T>, scope: string, host: string, value: T): void {
    const key = `${scope}\u0000${sig.name}`;
    let m = this.posts.get(key);
    if (!m) this.posts.set(key, (m = new Map()));
    m.set(host, value);
    this.wake();
  }

  /** A host's posted value, if it posted. */
  peek<T>(sig: Signal<T>, scope: string, host: string): T | undefined {
    return this.posts.get(`${scope}\u0000${sig.name}`)?.get(host) as T | undefined;
  }

  /** The engine calls this when a host fails, so waits that depend on it end now. */
  hostFailed(): void {
    this.wake();
  }

  /** Resolves with every host's value once all of `hosts` posted; rejects when one failed without posting. */
  all<T>(sig: Signal<T>, scope: string, hosts: readonly string[], o: WaitOptions): Promise<Map<string, T>> {
    const what = o.what ?? sig.name;
    const missing = () => hosts.filter((h) => !this.has(sig, scope, h));
    return this.until(o, missing, what, () => {
      const got = new Map<string, T>();
      for (const h of hosts) if (this.has(sig, scope, h)) got.set(h, this.peek(sig, scope, h) as T);
      const dead = hosts.filter((h) => !got.has(h) && this.failed(h));
      if (dead.length) throw new PeersFailedError(dead, what);
      return got.size === hosts.length ? got : undefined;
    });
  }

  /** Resolves with the first value any of `hosts` posts; rejects when all of them failed without posting. */
  first<T>(sig: Signal<T>, scope: string, hosts: readonly string[], o: WaitOptions): Promise<{ host: string; value: T }> {
    const what = o.what ?? sig.name;
    return this.until(o, () => [...hosts], what, () => {
      const h = hosts.find((x) => this.has(sig, scope, x));
      if (h !== undefined) return { host: h, value: this.peek(sig, scope, h) as T };
      if (hosts.every((x) => this.failed(x))) throw new PeersFailedError([...hosts], what);
      return undefined;
    });
  }

  /** The run-wide value under `key` (created from its initial value on first use). */
  store<T>(key: StoreKey<T>): T {
    if (!this.stores.has(key.name)) this.stores.set(key.name, key.init());
    return this.stores.get(key.name) as T;
  }

  private has(sig: Signal<unknown>, scope: string, host: string): boolean {
    return this.posts.get(`${scope}\u0000${sig.name}`)?.has(host) ?? false;
  }

  private wake(): void {
    for (const w of [...this.wakers]) w();
  }

  /** Re-evaluates `settled` at once and on every post or failure until it returns a value or throws. */
  private until<R>(o: WaitOptions, pending: () => string[], what: string, settled: () => R | undefined): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      const done = (f: () => void) => {
        this.wakers.delete(check);
        clearTimeout(timer);
        f();
      };
      const check = () => {
        try {
          const r = settled();
          if (r !== undefined) done(() => resolve(r));
        } catch (e) {
          done(() => reject(e));
        }
      };
      const timer = setTimeout(() => done(() => reject(new WaitTimeoutError(pending(), what, Math.round(o.timeoutMs / 1000)))), o.timeoutMs);
      this.wakers.add(check);
      check();
    });
  }
}
