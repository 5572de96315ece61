import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { judgeHostKey, knownHostsName } from '../../../src/transport/known-hosts.js';

const blob = (n: number) => {
  const type = Buffer.from('ssh-ed25519');
  const len = Buffer.alloc(4);
  len.writeUInt32BE(type.length);
  return Buffer.concat([len, type, Buffer.alloc(32, n)]);
};

describe('known_hosts', () => {
  it('matches a host on a non-standard port, written [addr]:port as OpenSSH does', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'a-kh-')), 'known_hosts');
    const name = knownHostsName('127.0.0.1', 2222);
    expect(name).toBe('[127.0.0.1]:2222');
    writeFileSync(file, `${name} ssh-ed25519 ${blob(1).toString('base64')}\n`);
    expect(judgeHostKey(file, name, blob(1))).toBe('known');
    expect(judgeHostKey(file, name, blob(2))).toBe('changed');
    // The brackets are literal: "[127.0.0.1]" must not act as a character class matching "1:2222".
    expect(judgeHostKey(file, '1:2222', blob(1))).toBe('unknown');
  });
});
