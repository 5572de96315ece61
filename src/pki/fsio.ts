import { randomBytes } from 'node:crypto';
import { chmod, mkdir, open, readFile, rename, rm, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { InputError, StepError } from '../errors.js';

/** The message of a caught error. */
export function reason(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

export async function readIfExists(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

/** A file the user named (caCert, caKey, a host's own cert/key): its text, or an InputError naming it. */
export async function readUserFile(path: string, what: string): Promise<string> {
  let text: string | undefined;
  try {
    text = await readIfExists(path);
  } catch (e) {
    throw new InputError(`cannot read the ${what}: ${reason(e)}`, path);
  }
  if (text === undefined) throw new InputError(`${what} not found`, path);
  return text;
}

/** A certificate and its key as we keep them (either may be missing); a read error is a StepError: `cannot read <what>: …`. */
export async function readPair(paths: { cert: string; key: string }, what: string): Promise<{ certText: string | undefined; keyText: string | undefined }> {
  try {
    return { certText: await readIfExists(paths.cert), keyText: await readIfExists(paths.key) };
  } catch (e) {
    throw new StepError(`cannot read ${what}: ${reason(e)}`);
  }
}

/** Create a directory (and its parents) with mode 0700. */
export async function ensureDir(path: string): Promise<void> {
  await mkdir(path, { recursive: true, mode: 0o700 });
}

/** Write through a temporary file in the same directory, fsync, then rename: readers see the old or the new file. */
export async function writeAtomic(path: string, data: string, mode: number): Promise<void> {
  await ensureDir(dirname(path));
  const tmp = `${path}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    const fh = await open(tmp, 'wx', mode);
    try {
      await fh.chmod(mode); // the umask may have removed bits we want (0644)
      await fh.writeFile(data, 'utf8');
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
}

/** Remove group/other permissions from an existing private key file. */
export async function tightenKeyMode(path: string): Promise<void> {
  const s = await stat(path);
  if (s.mode & 0o077) await chmod(path, s.mode & 0o700);
}
