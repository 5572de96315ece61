/**
 * The controller's apt-get waiting for other apt/dpkg processes: real apt-get, real POSIX locks (what apt itself
 * takes; `flock` locks do not stop apt), on a private apt state (APT_CONFIG: a copy of dpkg's status, empty
 * sources) so nothing on this machine is changed or blocked and no network is used.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { aptGet, installDebianPackages, missingDebianPackages, PackageInstallError } from '../../../src/controller/packages.js';

const asRoot = process.getuid?.() === 0 && spawnSync('apt-get', ['--version']).status === 0;
let root: string;
let env: NodeJS.ProcessEnv;
const INSTALLED = 'usr-is-merged'; // tiny, always installed on Debian 12
beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'b-apt-'));
  for (const d of ['dpkg', 'cache/archives/partial', 'lists/partial', 'sources.list.d']) mkdirSync(join(root, d), { recursive: true });
  copyFileSync('/var/lib/dpkg/status', join(root, 'dpkg/status'));
  writeFileSync(join(root, 'sources.list'), '');
  writeFileSync(
    join(root, 'apt.conf'),
    [
      `Dir::State::status "${root}/dpkg/status";`,
      `Dir::Cache "${root}/cache";`,
      `Dir::State::Lists "${root}/lists";`,
      `Dir::Etc::sourcelist "${root}/sources.list";`,
      `Dir::Etc::sourceparts "${root}/sources.list.d";`,
      '',
    ].join('\n'),
  );
  env = { ...process.env, APT_CONFIG: join(root, 'apt.conf') };
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** Holds a POSIX write lock on `file` (as apt and dpkg take theirs) until its stdin closes. */
async function holdLock(file: string): Promise<ChildProcess> {
  const child = spawn('/usr/bin/python3', ['-c', `import fcntl,sys\nf=open(${JSON.stringify(file)},'a')\nfcntl.lockf(f,fcntl.LOCK_EX)\nprint('held',flush=True)\nsys.stdin.read()`], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => d.toString().includes('held') && resolve());
    child.on('close', () => reject(new Error('lock holder exited')));
  });
  return child;
}
const release = (c: ChildProcess) =>
  new Promise<void>((r) => {
    if (c.exitCode !== null || c.signalCode !== null) return r();
    c.on('close', () => r());
    c.stdin!.end();
  });

describe.skipIf(!asRoot)('aptGet waits for other apt/dpkg processes', () => {
  const cases = [
    { lock: 'dpkg/lock-frontend', args: ['install', '-y', INSTALLED], why: 'dpkg frontend lock (apt waits itself with DPkg::Lock::Timeout)' },
    { lock: 'cache/archives/lock', args: ['install', '-y', INSTALLED], why: 'archives lock of apt-get install (apt 2.6 fails at once; we retry)' },
    { lock: 'lists/lock', args: ['update'], why: 'lists lock of apt-get update (apt 2.6 fails at once; we retry)' },
  ];
  for (const c of cases) {
    it(`${c.why}: progress line naming the holder, then proceeds after release`, async () => {
      const holder = await holdLock(join(root, c.lock));
      const lines: string[] = [];
      let released: Promise<void> | undefined;
      try {
        await aptGet(c.args, {
          env,
          lockTimeoutSeconds: 90,
          progressEveryMs: 0,
          log: (l) => {
            lines.push(l);
            if (lines.length === 2) released = release(holder);
          },
        });
      } finally {
        await (released ?? release(holder));
      }
      expect(lines.length, lines.join('\n')).toBeGreaterThanOrEqual(2);
      expect(lines[0]).toContain(`apt-get ${c.args.join(' ')}: waiting for ${join(root, c.lock)}, held by pid ${holder.pid!} (/usr/bin/python3 -c import fcntl,sys`);
      expect(lines[0]).toMatch(/\(\d+ s of at most 90 s\)$/);
    });
  }

  it('gives up at the bound and names the lock and its holder', async () => {
    const holder = await holdLock(join(root, 'lists/lock'));
    const err = (await aptGet(['update'], { env, lockTimeoutSeconds: 2 }).catch((e: unknown) => e)) as Error;
    await release(holder);
    expect(err).toBeInstanceOf(PackageInstallError);
    expect(err.message).toMatch(new RegExp(`^apt-get update: gave up after \\d+ s waiting for ${join(root, 'lists/lock')}, held by pid ${holder.pid!} \\(/usr/bin/python3 -c`));
  });

  it('the frontend lock too, after apt waited for it itself', async () => {
    const holder = await holdLock(join(root, 'dpkg/lock-frontend'));
    const err = (await aptGet(['install', '-y', INSTALLED], { env, lockTimeoutSeconds: 1 }).catch((e: unknown) => e)) as Error;
    await release(holder);
    expect(err.message).toContain(`waiting for ${join(root, 'dpkg/lock-frontend')}, held by pid ${holder.pid!}`);
  });

  it('a failure that is not a lock fails at once with apt-get’s own message', async () => {
    const err = (await aptGet(['install', '-y', 'no-such-package-b-test'], { env, lockTimeoutSeconds: 120 }).catch((e: unknown) => e)) as Error;
    expect(err).toBeInstanceOf(PackageInstallError);
    expect(err.message).toMatch(/^apt-get install -y no-such-package-b-test failed \(exit 100\):[\s\S]*Unable to locate package no-such-package-b-test/);
  });
});

describe('installDebianPackages', () => {
  it('does nothing (no apt-get) when every package is installed, and knows what is missing', async () => {
    expect(await missingDebianPackages([INSTALLED, 'no-such-package-b-test'])).toEqual(['no-such-package-b-test']);
    // An unusable apt config would make any apt-get fail: none runs.
    expect(await installDebianPackages([INSTALLED], { env: { ...process.env, APT_CONFIG: '/nonexistent' } })).toEqual([]);
  });
});
