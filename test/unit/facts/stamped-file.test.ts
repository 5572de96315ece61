// The exporter binary's check (issue 13): the host hashes its copy only when the stat stamp differs from the one
// the controller remembers. The fact script runs for real here (sh + coreutils on temp files); a `date` on PATH
// stands in for the clock moving on, a `sha256sum` wrapper counts the hashes.
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseStampedFacts, stampedFileFact, type StampedDigest, type StampedFileFacts } from '../../../src/facts/files.js';
import { copy, type StampStore } from '../../../src/operations/file.js';
import { sha256 } from '../../../src/operations/write-file.js';
import { parseHostFacts } from '../../../src/facts/gather-host-facts.js';
import { planWithRecordedFacts } from '../../support/recorded-facts.js';

const dir = mkdtempSync(join(tmpdir(), 'provision-stamp-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const bin = join(dir, 'bin');
spawnSync('mkdir', ['-p', bin]);
const real = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' }).stdout.trim();
// sha256sum counted, then the real one; date: the real clock, or `FAKE_NOW` when set.
writeFileSync(join(bin, 'sha256sum'), `#!/bin/sh\necho x >> ${dir}/hashes\nexec ${real('sha256sum')} "$@"\n`);
writeFileSync(join(bin, 'date'), `#!/bin/sh\nif [ -n "$FAKE_NOW" ]; then echo "$FAKE_NOW"; else exec ${real('date')} "$@"; fi\n`);
chmodSync(join(bin, 'sha256sum'), 0o755);
chmodSync(join(bin, 'date'), 0o755);

/** Runs the fact against `path` as the engine would; `later`: the host's clock reads 10 s after the file's ctime. */
function gather(path: string, known?: StampedDigest, later = false): { facts: StampedFileFacts; hashed: number } {
  writeFileSync(join(dir, 'hashes'), '');
  const env = { ...process.env, PATH: `${bin}:${process.env.PATH}`, ...(later ? { FAKE_NOW: `${statSync(path, { bigint: true }).ctimeNs / 1_000_000_000n + 10n}.000000000` } : {}) };
  const q = stampedFileFact(path, known);
  const r = spawnSync('sh', ['-c', q.script], { env, encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(0);
  return { facts: q.parse(r.stdout, 0), hashed: readFileSync(join(dir, 'hashes'), 'utf8').split('\n').filter(Boolean).length };
}

describe('stampedFileFact: a stat when nothing can have changed, a hash otherwise', () => {
  const file = join(dir, 'exporter');
  const content = Buffer.alloc(64 * 1024, 7);
  writeFileSync(file, content);

  it('nothing remembered: hashed; a stamp taken right after a change is not remembered (same clock tick), a later one is', () => {
    const fresh = gather(file);
    expect(fresh).toMatchObject({ hashed: 1, facts: { exists: true, type: 'file', sha256: sha256(content) } });
    expect(fresh.facts.stamp).toMatch(/^\d+:\d+:65536:\d+\.\d{9}:\d+\.\d{9}$/);
    expect(fresh.facts.remember).toBeUndefined();
    const later = gather(file, undefined, true);
    expect(later.facts.remember).toEqual({ stamp: later.facts.stamp, sha256: sha256(content) });
  });

  it('the remembered stamp: no hash, the remembered digest; every way of changing the file is seen and hashed', () => {
    const remembered = gather(file, undefined, true).facts.remember!;
    const same = gather(file, remembered);
    expect(same).toMatchObject({ hashed: 0, facts: { sha256: remembered.sha256, stampKnown: true } });
    expect(same.facts.remember).toBeUndefined();
    const old = statSync(file);
    const edits: [string, () => void][] = [
      // Same size, mtime set back to the old one: the ctime still moves.
      ['same-size content, mtime set back', () => { writeFileSync(file, Buffer.alloc(64 * 1024, 8)); utimesSync(file, old.atime, old.mtime); }],
      ['mode changed', () => chmodSync(file, 0o700)],
      ['replaced by a new file (rename over)', () => { writeFileSync(`${file}.new`, content); spawnSync('mv', ['-f', `${file}.new`, file]); }],
    ];
    let known = remembered;
    for (const [what, edit] of edits) {
      // The fake clock skipped the racy window; on a host the edit comes after it, so in a later clock tick than
      // the remembered ctime (a kernel tick is at most 10 ms). Not a timing assertion: only the order matters.
      spawnSync('sleep', ['0.05']);
      edit();
      const seen = gather(file, known);
      expect(seen.hashed, what).toBe(1);
      expect(seen.facts.stampKnown, what).toBeUndefined();
      expect(seen.facts.sha256, what).toBe(sha256(readFileSync(file)));
      known = gather(file, undefined, true).facts.remember!;
    }
  });

  it('a malformed memory is no memory (hashed), and never reaches the script', () => {
    for (const bad of [{ stamp: "1:2'; rm -rf /; '", sha256: 'a'.repeat(64) }, { stamp: '1:2:3:4.000000000:5.000000000', sha256: 'nope' }]) {
      expect(stampedFileFact(file, bad).script).not.toContain('rm -rf');
      expect(gather(file, bad).hashed).toBe(1);
    }
  });

  it('absent, or a directory: no stamp, nothing remembered', () => {
    expect(gather(join(dir, 'missing')).facts).toEqual({ exists: false });
    const d = gather(bin).facts;
    expect(d).toMatchObject({ exists: true, type: 'directory' });
    expect(d.sha256).toBeUndefined();
    expect(d.remember).toBeUndefined();
  });

  it('"stamp-known" from a host is believed only for the stamp the controller sent', () => {
    const known = { stamp: '1:2:3:4.000000000:5.000000000', sha256: 'a'.repeat(64) };
    expect(parseStampedFacts('stat regular file|0|0|root|root|755|3|1:2:3:4.000000000:5.000000000\nstamp-known\n', known)).toMatchObject({ sha256: known.sha256, stampKnown: true });
    expect(parseStampedFacts('stat regular file|0|0|root|root|755|3|1:2:3:4.000000000:6.000000000\nstamp-known\n', known).sha256).toBeUndefined();
  });
});

describe('copy with a stamp store (the exporter binary)', () => {
  const debian = parseHostFacts('mq1', readFileSync(join(__dirname, '../../fixtures/facts/debian12/host-facts.txt'), 'utf8'));
  const digest = 'a'.repeat(64);
  const stampA = '66:1234:10:1700000000.000000000:1700000000.000000000';
  const memory = (initial?: StampedDigest) => {
    const puts: StampedDigest[] = [];
    let kept = initial;
    const store: StampStore = { get: () => kept, put: (d) => { puts.push(d); kept = d; } };
    return { store, puts };
  };
  const missing = join(dir, 'no-such-binary'); // reading it would fail the plan
  const step = (store: StampStore) => copy({ src: missing, srcSha256: digest, stamps: store, dest: '/usr/local/bin/tool', owner: 'root', group: 'root', mode: '0755' });

  const cases: { name: string; remembered?: StampedDigest; stdout: string; changes: string[] | 'reads source'; puts: StampedDigest[] }[] = [
    { name: 'stamp unchanged: nothing to do, nothing read or hashed', remembered: { stamp: stampA, sha256: digest }, stdout: `stat regular file|0|0|root|root|755|10|${stampA}\nstamp-known\n`, changes: [], puts: [] },
    { name: 'stamp unchanged, mode drifted (a chmod changes the stamp, so: hashed)', remembered: { stamp: stampA, sha256: digest }, stdout: `stat regular file|0|0|root|root|777|10|${stampA.replace(/:1700000000\.0+$/, ':1700000500.000000000')}\nsha256 ${digest}\nhashed-at 1700000600.000000000\nstamp-after ${stampA.replace(/:1700000000\.0+$/, ':1700000500.000000000')}\n`, changes: ['set mode 0755 on /usr/local/bin/tool'], puts: [{ stamp: stampA.replace(/:1700000000\.0+$/, ':1700000500.000000000'), sha256: digest }] },
    { name: 'nothing remembered, hashed well after its change: remembered for the next run', stdout: `stat regular file|0|0|root|root|755|10|${stampA}\nsha256 ${digest}\nhashed-at 1700000100.000000000\nstamp-after ${stampA}\n`, changes: [], puts: [{ stamp: stampA, sha256: digest }] },
    { name: 'hashed within the racy window of its change: not remembered', stdout: `stat regular file|0|0|root|root|755|10|${stampA}\nsha256 ${digest}\nhashed-at 1700000001.000000000\nstamp-after ${stampA}\n`, changes: [], puts: [] },
    { name: 'remembered digest is an old build: the source is read (here: it cannot be)', remembered: { stamp: stampA, sha256: 'b'.repeat(64) }, stdout: `stat regular file|0|0|root|root|755|10|${stampA}\nstamp-known\n`, changes: 'reads source', puts: [] },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const { store, puts } = memory(c.remembered);
      const s = step(store);
      const plan = planWithRecordedFacts(s, debian, { [s.facts![0]!.key]: { stdout: c.stdout } });
      if (c.changes === 'reads source') await expect(plan).rejects.toThrow(/cannot read .*no-such-binary/);
      else {
        const p = await plan;
        expect('changes' in p && p.changes.map((x) => x.summary)).toEqual(c.changes);
      }
      expect(puts).toEqual(c.puts);
    });
  }
});
