// Which facts a file write makes stale, as each fact declares it (FactQuery.staleAfter), as data.
import { describe, expect, it } from 'vitest';
import { staleAfterWrites } from '../../../src/engine/step-runner.js';
import type { FactQuery } from '../../../src/engine/types.js';
import { guardsFact } from '../../../src/facts/command.js';
import { fileFact, statFact, treeFact } from '../../../src/facts/files.js';
import { packagesFact } from '../../../src/facts/package.js';
import { serviceFact } from '../../../src/facts/service.js';
import { userFact } from '../../../src/facts/users.js';

const cases: Array<[string, FactQuery<unknown>, string[], boolean]> = [
  ['a file fact, its own file written', fileFact('/etc/mosquitto/mosquitto.conf'), ['/etc/mosquitto/mosquitto.conf'], true],
  ['a file fact, another file written', fileFact('/etc/mosquitto/mosquitto.conf'), ['/etc/mosquitto/mosquitto.conf.d/x'], false],
  ['a file fact, a file whose name contains it', statFact('/etc/a'), ['/etc/ab'], false],
  ['a tree fact, a file below it', treeFact('/etc/mosquitto', 'mosquitto'), ['/etc/mosquitto/certs/server.pem'], true],
  ['a tree fact, a sibling with the same prefix', treeFact('/etc/mosquitto', 'mosquitto'), ['/etc/mosquitto-exporter/env'], false],
  ['packages, any file', packagesFact(['mosquitto']), ['/etc/apt/sources.list'], false],
  ['a service, its unit file', serviceFact('mosquitto'), ['/etc/systemd/system/mosquitto.service'], false],
  ['a user, /etc/passwd', userFact('exporter'), ['/etc/passwd'], false],
  ['a guard (reads anything), any file', guardsFact({ creates: '/x' }), ['/etc/y'], true],
  ['an undeclared fact (a role\'s own), any file', { key: 'role:own', script: 'true', parse: () => 0 }, ['/etc/y'], true],
];

describe('fact staleness after file writes, declared by each fact', () => {
  it.each(cases)('%s', (_what, q, written, stale) => {
    expect(staleAfterWrites(q, written)).toBe(stale);
  });
});
