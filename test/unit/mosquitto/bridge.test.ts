import { describe, expect, it } from 'vitest';
import { bridgeAcls, bridgeClientId, bridgedFilters, bridgeParents, checkBridgeTopics, filterCovers, isTopicFilter, renderBridgeConf, VERIFY_PROBE_FILTER } from '../../../src/mosquitto/bridge.js';

const order = ['mq1', 'mq2', 'mq3', 'mq4'].map((name, i) => ({ name, address: `10.0.0.${i + 1}` }));

/**
 * A model of Mosquitto's forwarding between brokers (src/bridge.c, src/subs.c): a copy that reached broker x
 * over link `via` is sent on every link of x except `via` (no-local). Links of x: each bridge connection x owns
 * (to its current remote) and each connection another broker's bridge holds to x. `links` is asked afresh at
 * every hop, so an adversary may re-parent brokers while copies are in flight. Returns the number of copies
 * each broker received, or 'storm' past `cap` copies.
 */
type Link = { id: string; a: number; b: number };
let lastHops = 0;
function flood(n: number, origin: number, links: (hop: number) => Link[], cap = 500): number[] | 'storm' {
  const got = new Array<number>(n + 1).fill(0);
  got[origin] = 1;
  let frontier: { at: number; via: string | undefined }[] = [{ at: origin, via: undefined }];
  let copies = 0;
  for (let hop = 0; frontier.length; hop++) {
    const live = links(hop);
    const next: typeof frontier = [];
    for (const c of frontier)
      for (const l of live) {
        if (l.id === c.via || (l.a !== c.at && l.b !== c.at)) continue;
        const to = l.a === c.at ? l.b : l.a;
        got[to]!++;
        next.push({ at: to, via: l.id });
        if (++copies > cap) return 'storm';
      }
    frontier = next;
    if (next.length) lastHops = hop + 1;
  }
  return got.slice(1);
}

/** Our rule: broker k owns ONE bridge (id `b<k>`), currently to parent[k] (< k) or to nobody. */
const treeLinks = (parent: (number | undefined)[]): Link[] => parent.flatMap((p, k) => (p === undefined ? [] : [{ id: `b${k}`, a: k, b: p }]));

function rng(seed: number): () => number {
  let s = seed;
  return () => ((s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
}

describe('bridge tree rule', () => {
  it('broker k bridges to the brokers before it, primary first; the first has none', () => {
    expect(bridgeParents(order, 'mq1')).toEqual([]);
    expect(bridgeParents(order, 'mq3').map((b) => b.name)).toEqual(['mq1', 'mq2']);
    expect(bridgeParents(order, 'mq4').map((b) => b.name)).toEqual(['mq1', 'mq2', 'mq3']);
    expect(bridgeParents(order, 'absent')).toEqual([]);
  });

  it('a stable tree (any choice of parents from the rule, some brokers parentless) delivers exactly one copy per reachable broker', () => {
    // Every parent assignment for 5 brokers: p(k) ∈ {none, 1..k-1}.
    const n = 5;
    const all: (number | undefined)[][] = [[undefined, undefined]];
    for (let k = 2; k <= n; k++) all.splice(0, all.length, ...all.flatMap((a) => [undefined, ...Array.from({ length: k - 1 }, (_, i) => i + 1)].map((p) => [...a, p])));
    expect(all.length).toBe(1 * 2 * 3 * 4 * 5);
    for (const parent of all)
      for (let origin = 1; origin <= n; origin++) {
        const got = flood(n, origin, () => treeLinks(parent));
        expect(got).not.toBe('storm');
        for (const c of got as number[]) expect(c).toBeLessThanOrEqual(1);
        expect((got as number[])[origin - 1]).toBe(1);
      }
  });

  it('re-parenting at every hop while copies are in flight never storms: every path climbs, then descends, at most 2(n-1) hops', () => {
    const n = 6;
    const r = rng(42);
    let worst = 0;
    let longest = 0;
    for (let trial = 0; trial < 3000; trial++) {
      const parent = (): (number | undefined)[] => [undefined, undefined, ...Array.from({ length: n - 1 }, (_, i) => (r() < 0.2 ? undefined : 1 + Math.floor(r() * (i + 1))))];
      const origin = 1 + Math.floor(r() * n);
      const got = flood(n, origin, () => treeLinks(parent()));
      expect(got).not.toBe('storm');
      worst = Math.max(worst, ...(got as number[]));
      longest = Math.max(longest, lastHops);
    }
    expect(longest).toBeLessThanOrEqual(2 * (n - 1));
    // Duplicates do happen when parents change under a message in flight (bounded; in a stable tree never, above).
    expect(worst).toBeGreaterThan(1);
  });

  it('the model catches loops: one bridge per parent (separate connections), a triangle, a mutual pair all storm', () => {
    // mq3 with two connections (to mq1 and to mq2) and mq2 -> mq1: the triangle the facts table measured.
    const triangle: Link[] = [
      { id: 'b2', a: 2, b: 1 },
      { id: 'b3a', a: 3, b: 1 },
      { id: 'b3b', a: 3, b: 2 },
    ];
    expect(flood(3, 1, () => triangle)).toBe('storm');
    expect(flood(2, 1, () => [{ id: 'x', a: 1, b: 2 }, { id: 'y', a: 2, b: 1 }])).toBe('storm');
    // A star and a chain are fine (as measured).
    expect(flood(3, 2, () => [{ id: 'b2', a: 2, b: 1 }, { id: 'b3', a: 3, b: 1 }])).toEqual([1, 1, 1]);
    expect(flood(3, 1, () => [{ id: 'b2', a: 2, b: 1 }, { id: 'b3', a: 3, b: 2 }])).toEqual([1, 1, 1]);
  });
});

describe('bridge topics', () => {
  it('validates filters and refuses $ topics and overlaps', () => {
    expect(isTopicFilter('a/+/b/#')).toBe(true);
    expect(isTopicFilter('a/#/b')).toBe(false);
    expect(isTopicFilter('a/b+')).toBe(false);
    expect(checkBridgeTopics(['#'])).toBeUndefined();
    expect(checkBridgeTopics(['sensors/#', 'cmd/+/set'])).toBeUndefined();
    expect(checkBridgeTopics(['$SYS/#'])?.message).toContain('$ topics');
    expect(checkBridgeTopics(['a', '$CONTROL/dynamic-security/v1'])).toMatchObject({ index: 1 });
    expect(checkBridgeTopics(['a/b', 'a/#'])).toEqual({ index: 0, message: 'topic filters that do not overlap: "a/#" already covers "a/b"' });
    expect(checkBridgeTopics(['x', 'x'])).toMatchObject({ index: 1 });
    expect(checkBridgeTopics(['a b'])?.message).toContain('without spaces');
  });

  it('filterCovers follows MQTT matching', () => {
    expect(filterCovers('#', 'a/b')).toBe(true);
    expect(filterCovers('a/#', 'a')).toBe(true); // "a/#" matches "a" itself
    expect(filterCovers('a/+', 'a/b')).toBe(true);
    expect(filterCovers('a/b', 'a/+')).toBe(false);
    expect(filterCovers('a/+', 'a/#')).toBe(false);
    expect(filterCovers('+/verify/#', VERIFY_PROBE_FILTER)).toBe(true);
  });

  it("verify's probe topic is bridged too unless covered; the bridge account gets exactly the bridged filters", () => {
    expect(bridgedFilters(['#'])).toEqual(['#']);
    expect(bridgedFilters(['sensors/#'])).toEqual(['sensors/#', VERIFY_PROBE_FILTER]);
    const acls = bridgeAcls(['sensors/#']);
    expect(acls.map((a) => `${a.acltype} ${a.topic}`)).toEqual([
      'publishClientSend sensors/#',
      'publishClientReceive sensors/#',
      'subscribeLiteral sensors/#',
      `publishClientSend ${VERIFY_PROBE_FILTER}`,
      `publishClientReceive ${VERIFY_PROBE_FILTER}`,
      `subscribeLiteral ${VERIFY_PROBE_FILTER}`,
    ]);
    expect(acls.some((a) => a.topic.startsWith('$'))).toBe(false);
  });
});

describe('renderBridgeConf', () => {
  const base = { order, port: 8884, certDir: '/etc/mosquitto/certs', username: 'provision-bridge', password: 'pw-xyz', topics: ['#'] };

  it('the first broker has the TLS bridge listener and no bridge', () => {
    const lines = renderBridgeConf({ ...base, self: 'mq1', address: '10.0.0.1' });
    expect(lines).toContain('listener 8884 10.0.0.1');
    expect(lines).toContain('cafile /etc/mosquitto/certs/ca.crt');
    expect(lines.some((l) => l.startsWith('tls_version tlsv1.2'))).toBe(true);
    expect(lines.some((l) => l.startsWith('connection '))).toBe(false);
  });

  it('broker 3: one connection, its parents in order, no round robin, clean session, TLS verified, QoS 1 both ways', () => {
    const lines = renderBridgeConf({ ...base, self: 'mq3', address: '10.0.0.3' });
    expect(lines.filter((l) => l.startsWith('connection ')).length).toBe(1);
    expect(lines.filter((l) => l.startsWith('address ')).length).toBe(1);
    for (const want of [
      'address 10.0.0.1:8884 10.0.0.2:8884',
      'round_robin false',
      `remote_clientid ${bridgeClientId('mq3')}`,
      'remote_username provision-bridge',
      'remote_password pw-xyz',
      'cleansession true',
      'local_cleansession false',
      'try_private true',
      'bridge_protocol_version mqttv311',
      'notifications_local_only true',
      'bridge_cafile /etc/mosquitto/certs/ca.crt',
      'bridge_insecure false',
      'topic # both 1',
    ])
      expect(lines).toContain(want);
    expect(lines.some((l) => /^topic \$/.test(l))).toBe(false);
  });

  it('without failback: round_robin true, still one connection', () => {
    const lines = renderBridgeConf({ ...base, self: 'mq3', address: '10.0.0.3', failback: false });
    expect(lines).toContain('round_robin true');
    expect(lines.filter((l) => l.startsWith('connection ')).length).toBe(1);
  });

  it('IPv6 parents are bracketed', () => {
    const v6 = [{ name: 'a', address: 'fd00::1' }, { name: 'b', address: 'fd00::2' }];
    expect(renderBridgeConf({ ...base, order: v6, self: 'b', address: 'fd00::2' })).toContain('address [fd00::1]:8884');
  });
});
