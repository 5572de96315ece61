import { describe, expect, it } from 'vitest';
import { Coordination, PeersFailedError, signal, storeKey, WaitTimeoutError } from '../../../src/engine/coordination.js';

const READY = signal<{ port: number }>('ready');
const OTHER = signal<string>('other');

/** A run whose failed hosts the test decides. */
function run(): { c: Coordination; fail: (h: string) => void } {
  const failed = new Set<string>();
  const c = new Coordination((h) => failed.has(h));
  return {
    c,
    fail: (h) => {
      failed.add(h);
      c.hostFailed();
    },
  };
}

describe('Coordination (typed cross-host waits)', () => {
  it('all(): resolves with every host\'s value once the last one posts, not before', async () => {
    const { c } = run();
    let settled = false;
    const waiting = c.all(READY, 'play', ['a', 'b'], { timeoutMs: 5000 }).then((m) => ((settled = true), m));
    c.post(READY, 'play', 'a', { port: 1 });
    await Promise.resolve();
    expect(settled).toBe(false);
    c.post(READY, 'play', 'b', { port: 2 });
    expect([...(await waiting)]).toEqual([['a', { port: 1 }], ['b', { port: 2 }]]);
  });

  it('all(): a value posted before the wait counts; other signals and other plays do not', async () => {
    const { c } = run();
    c.post(READY, 'play', 'a', { port: 1 });
    c.post(READY, 'other play', 'b', { port: 9 });
    c.post(OTHER, 'play', 'b', 'x');
    const waiting = c.all(READY, 'play', ['a', 'b'], { timeoutMs: 100 });
    await expect(waiting).rejects.toThrow(WaitTimeoutError);
    await expect(waiting).rejects.toThrow('timed out after 0 s waiting for ready on b');
  });

  it('all(): a host that fails before posting ends the wait at once, naming it', async () => {
    const { c, fail } = run();
    const waiting = c.all(READY, 'play', ['a', 'b', 'c'], { timeoutMs: 60_000, what: 'the grant' });
    c.post(READY, 'play', 'a', { port: 1 });
    fail('b');
    const e = await waiting.catch((x: unknown) => x);
    expect(e).toBeInstanceOf(PeersFailedError);
    expect((e as PeersFailedError).hosts).toEqual(['b']);
    expect((e as Error).message).toBe('b failed earlier in this run, before the grant');
  });

  it('all(): a host that posted and then failed does not end the wait', async () => {
    const { c, fail } = run();
    c.post(READY, 'play', 'a', { port: 1 });
    fail('a');
    const waiting = c.all(READY, 'play', ['a', 'b'], { timeoutMs: 5000 });
    c.post(READY, 'play', 'b', { port: 2 });
    expect((await waiting).size).toBe(2);
  });

  it('first(): the first poster wins; all candidates failing without a post rejects', async () => {
    const { c, fail } = run();
    const waiting = c.first(OTHER, 'play', ['a', 'b'], { timeoutMs: 5000 });
    c.post(OTHER, 'play', 'b', 'done');
    c.post(OTHER, 'play', 'a', 'later');
    expect(await waiting).toEqual({ host: 'b', value: 'done' });

    const nobody = c.first(OTHER, 'play 2', ['a', 'b'], { timeoutMs: 60_000 });
    fail('a');
    fail('b');
    await expect(nobody).rejects.toThrow(PeersFailedError);
  });

  it('store(): one typed value per key for the whole run, created on first use', () => {
    const { c } = run();
    const KEY = storeKey('written', () => new Map<string, string[]>());
    c.store(KEY).set('h1', ['/etc/x']);
    expect(c.store(KEY).get('h1')).toEqual(['/etc/x']);
    expect(c.store(storeKey('other', () => 0))).toBe(0);
  });
});
