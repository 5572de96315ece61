// Issue 13: a no-op run answers "can the stored certificate be kept?" from the answer remembered last time, keyed by
// the bytes of everything the check reads and bounded by the renewal margin — no certificate parsed or verified.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import type { KeptCheck, KeptCheckStore } from '../../../src/pki/kept-check.js';

/** Every certificate the pki module parses goes through parseCert: counted here. */
const parsed = { count: 0 };
vi.mock('../../../src/pki/x509.js', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../../src/pki/x509.js')>();
  return {
    ...real,
    parseCert: (text: string) => {
      parsed.count++;
      return real.parseCert(text);
    },
  };
});

const { ensureServerCert, hostPaths } = await import('../../../src/pki/index.js');
const { DAY_MS } = await import('../../../src/pki/options.js');

const roots: string[] = [];
afterAll(async () => {
  for (const d of roots) await rm(d, { recursive: true, force: true });
});

function memoryStore(): KeptCheckStore & { entry?: KeptCheck; puts: number } {
  const s: KeptCheckStore & { entry?: KeptCheck; puts: number } = {
    puts: 0,
    get: () => s.entry,
    put: (k) => {
      s.entry = k;
      s.puts++;
    },
  };
  return s;
}

async function setup() {
  const dir = await mkdtemp(join(tmpdir(), 'pki-kept-'));
  roots.push(dir);
  const kept = memoryStore();
  const t0 = new Date('2026-12-03T12:00:00Z');
  const ask = (o: { now?: Date; dnsNames?: string[]; check?: boolean } = {}) =>
    ensureServerCert({ dir, host: 'b1', dnsNames: o.dnsNames ?? ['b1.example.test'], ipAddresses: ['10.77.0.11'], check: o.check ?? false, now: o.now ?? t0, kept });
  const issued = await ask(); // creates the CA and the certificate (nothing is remembered for a new one)
  expect(issued.issued).toBe(true);
  return { dir, kept, t0, ask, issued };
}

/** The number of certificates parsed while `f` runs. */
async function parses<T>(f: () => Promise<T>): Promise<{ value: T; parses: number }> {
  const before = parsed.count;
  const value = await f();
  return { value, parses: parsed.count - before };
}

describe('pki: the remembered "keep" answer of a no-op', () => {
  const cases: Array<{ name: string; change: (s: Awaited<ReturnType<typeof setup>>) => Promise<void>; expectParse: boolean; reissued?: RegExp; cert?: (s: Awaited<ReturnType<typeof setup>>) => string }> = [
    { name: 'nothing changed: answered without parsing', change: async () => {}, expectParse: false },
    {
      name: 'the host certificate file changed (the same certificate, one more newline): checked again, and kept',
      change: async (s) => writeFile(hostPaths(s.dir, 'b1').cert, `${s.issued.cert}\n`),
      expectParse: true,
      cert: (s) => `${s.issued.cert}\n`,
    },
    {
      name: 'the CA was replaced: checked again, and re-issued',
      change: async (s) => {
        await rm(join(s.dir, 'ca.crt'));
        await rm(join(s.dir, 'ca.key'));
      },
      expectParse: true,
      reissued: /no certificate|CA changed/,
    },
  ];

  for (const c of cases) {
    it(c.name, async () => {
      const s = await setup();
      const kept = await s.ask(); // the first no-op checks and remembers
      expect(kept.issued).toBe(false);
      expect(s.kept.puts).toBe(1);
      await c.change(s);
      const { value, parses: n } = await parses(() => s.ask());
      expect(n > 0).toBe(c.expectParse);
      if (c.reissued) {
        expect(value.issued).toBe(true);
        expect(value.reasons.join('; ')).toMatch(c.reissued);
      } else {
        // The same material as the full check returns.
        expect(value).toEqual({ ...kept, cert: c.cert?.(s) ?? kept.cert });
      }
    });
  }

  it('SANs the inventory asks for changed: checked again and re-issued', async () => {
    const s = await setup();
    await s.ask();
    const { value, parses: n } = await parses(() => s.ask({ dnsNames: ['b1.example.test', 'mqtt.example.test'] }));
    expect(n).toBeGreaterThan(0);
    expect(value.issued).toBe(true);
    expect(value.reasons.join('; ')).toMatch(/SANs changed: \+mqtt\.example\.test/);
  });

  it('holds until the renewal margin starts: the first run inside it checks and renews', async () => {
    const s = await setup();
    const first = await s.ask();
    const margin = first.notAfter.getTime() - 30 * DAY_MS; // the default renewal margin: 30 days
    expect(s.kept.entry?.until).toBe(margin);
    expect((await parses(() => s.ask({ now: new Date(margin - 1) }))).parses).toBe(0);
    const inside = await parses(() => s.ask({ now: new Date(margin + DAY_MS) }));
    expect(inside.parses).toBeGreaterThan(0);
    expect(inside.value.issued).toBe(true);
    expect(inside.value.reasons.join('; ')).toMatch(/expires in 29 days/);
  });

  it('a clock set back before the check does not use the answer', async () => {
    const s = await setup();
    await s.ask();
    expect((await parses(() => s.ask({ now: new Date(s.t0.getTime() - 1) }))).parses).toBeGreaterThan(0);
  });

  it('check mode uses a remembered answer but records none', async () => {
    const s = await setup();
    await s.ask({ check: true });
    expect(s.kept.puts).toBe(0);
    await s.ask();
    expect((await parses(() => s.ask({ check: true }))).parses).toBe(0);
  });
});
