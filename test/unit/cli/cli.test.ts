/**
 * Command line: run options, extra vars, playbook loading errors, and how errors become exit codes
 * (ansible-playbook's: 4 bad inventory/playbook/vars, 5 bad options, 1 internal).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXIT, exitCodeForError } from '../../../src/cli/exit-codes.js';
import { parseExtraVars } from '../../../src/inventory/extra-vars.js';
import { parseRunOptions } from '../../../src/cli/options.js';
import { loadPlaybook } from '../../../src/engine/playbook.js';
import { InputError, OptionsError } from '../../../src/errors.js';

let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'provision-cli-'));
});
afterAll(() => {
  rmSync(tmp, { recursive: true, force: true });
});

/** The error a call throws (fails the test when it does not throw). */
function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected an error, nothing was thrown');
}

async function rejected(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a rejection, the promise resolved');
}

describe('parseRunOptions', () => {
  it('--wait-lock: bare means the default wait, =SECONDS a given one, anything else is a bad option', () => {
    expect(parseRunOptions(['-i', 'h', '--wait-lock']).waitLockSeconds).toBe(300);
    expect(parseRunOptions(['-i', 'h', '--wait-lock=7']).waitLockSeconds).toBe(7);
    expect(parseRunOptions(['-i', 'h']).waitLockSeconds).toBeUndefined();
    expect(thrown(() => parseRunOptions(['-i', 'h', '--wait-lock=soon']))).toBeInstanceOf(OptionsError);
  });
  it('defaults: every phase in order, 100 forks, nothing filtered, no check/diff', () => {
    expect(parseRunOptions(['-i', 'hosts.yml'])).toEqual({
      inventories: ['hosts.yml'],
      phases: ['build', 'configure', 'runtime', 'cluster'],
      tags: [],
      skipTags: [],
      check: false,
      diff: false,
      forks: 100,
      listHosts: false,
      listTasks: false,
      verbose: false,
      acceptNewHostKeys: false,
      extraVars: [],
      plain: false,
      help: false,
      version: false,
    });
  });

  it('-i/--inventory is repeatable and keeps the order given (short, long and --opt=value forms)', () => {
    expect(parseRunOptions(['-i', 'a.yml', '--inventory', 'b.ini', '--inventory=dir/', '-ic.yml']).inventories).toEqual(['a.yml', 'b.ini', 'dir/', 'c.yml']);
  });

  it('-e is repeatable; tags and skip-tags are comma lists; flags and values are read', () => {
    const o = parseRunOptions(['-i', 'h', '-e', 'a=1', '--extra-vars', '@vars.yml', '-t', 'config, tls,', '--skip-tags', 'slow', '-C', '-D', '-v', '-l', 'brokers:!mq3', '--playbook', 'pb.yaml', '--json', 'out.json', '--known-hosts', 'kh', '--accept-new-host-keys', '--plain']);
    expect(o).toMatchObject({
      extraVars: ['a=1', '@vars.yml'],
      tags: ['config', 'tls'],
      skipTags: ['slow'],
      check: true,
      diff: true,
      verbose: true,
      limit: 'brokers:!mq3',
      playbook: 'pb.yaml',
      json: 'out.json',
      knownHosts: 'kh',
      acceptNewHostKeys: true,
      plain: true,
    });
  });

  it('--phase always runs phases in build → configure → runtime → cluster order, whatever order is given', () => {
    expect(parseRunOptions(['-i', 'h', '--phase', 'cluster,build']).phases).toEqual(['build', 'cluster']);
    expect(parseRunOptions(['-i', 'h', '--phase', 'runtime, configure']).phases).toEqual(['configure', 'runtime']);
    expect(parseRunOptions(['-i', 'h', '--phase', 'configure,configure']).phases).toEqual(['configure']);
  });

  it('an unknown phase is an options error naming it and the valid ones (exit 5)', () => {
    const err = thrown(() => parseRunOptions(['-i', 'h', '--phase', 'build,deploy']));
    expect(err).toBeInstanceOf(OptionsError);
    expect(err.message).toBe("--phase: unknown phase 'deploy' (phases: build, configure, runtime, cluster)");
    expect(exitCodeForError(err)).toBe(EXIT.options);
    expect(EXIT.options).toBe(5);
  });

  it('an empty --phase list is an options error, not "all phases" (--phase "") or "no phase" (--phase ,)', () => {
    // src/cli/options.ts: `values.phase ? list(values.phase) : [...PHASES]` — '' is falsy, so `--phase "$PHASE"` with an
    // unset variable provisions everything; ',' gives an empty list and a run that does nothing and exits 0.
    for (const given of ['', ',']) {
      const err = thrown(() => parseRunOptions(['-i', 'h', '--phase', given]));
      expect(err, JSON.stringify(given)).toBeInstanceOf(OptionsError);
    }
  });

  it('--ssh-handshakes (run and verify): whole numbers from 1 to 500, unset by default (the transport bounds at 10)', async () => {
    const { parseVerifyOptions } = await import('../../../src/cli/verify-options.js');
    const cases: { argv: string[]; want?: number; error?: string }[] = [
      { argv: [], want: undefined },
      { argv: ['--ssh-handshakes', '1'], want: 1 },
      { argv: ['--ssh-handshakes=500'], want: 500 },
      { argv: ['--ssh-handshakes', '30'], want: 30 },
      ...['0', '501', '2.5', 'ten', '', '1e2', ' 5'].map((bad) => ({ argv: [`--ssh-handshakes=${bad}`], error: `--ssh-handshakes must be a whole number from 1 to 500, got '${bad}'` })),
    ];
    for (const parse of [parseRunOptions, parseVerifyOptions]) {
      for (const c of cases) {
        const argv = ['-i', 'h', ...c.argv];
        if (c.error === undefined) {
          expect(parse(argv).sshHandshakes, JSON.stringify(argv)).toBe(c.want);
          continue;
        }
        const err = thrown(() => parse(argv));
        expect(err, JSON.stringify(argv)).toBeInstanceOf(OptionsError);
        expect(err.message).toBe(c.error);
        expect(exitCodeForError(err)).toBe(EXIT.options);
      }
    }
  });

  it('ansible.cfg forks wins over the default 100, the command line over both', () => {
    expect(parseRunOptions(['-i', 'h'], { file: 'ansible.cfg', ignored: [], forks: 7 }).forks).toBe(7);
    expect(parseRunOptions(['-i', 'h', '-f', '3'], { file: 'ansible.cfg', ignored: [], forks: 7 }).forks).toBe(3);
  });

  it('--forks accepts whole numbers from 1 to 500 only', () => {
    expect(parseRunOptions(['-i', 'h', '-f', '1']).forks).toBe(1);
    expect(parseRunOptions(['-i', 'h', '--forks', '500']).forks).toBe(500);
    expect(parseRunOptions(['-i', 'h', '--forks=25']).forks).toBe(25);
    expect(thrown(() => parseRunOptions(['-i', 'h', '--forks', '-3']))).toBeInstanceOf(OptionsError); // parseArgs: value looks like an option
    for (const bad of ['0', '501', '-3', '2.5', 'ten', '']) {
      const err = thrown(() => parseRunOptions(['-i', 'h', `--forks=${bad}`]));
      expect(err, bad).toBeInstanceOf(OptionsError);
      expect(err.message).toBe(`--forks must be a whole number from 1 to 500, got '${bad}'`);
      expect(exitCodeForError(err)).toBe(EXIT.options);
    }
  });

  it('unknown options, stray arguments and a missing value are options errors (exit 5) pointing at --help', () => {
    for (const argv of [['-i', 'h', '--frobnicate'], ['-i', 'h', '-Z'], ['-i', 'h', 'site.yaml'], ['-i', 'h', '--forks'], ['-i']]) {
      const err = thrown(() => parseRunOptions(argv));
      expect(err, argv.join(' ')).toBeInstanceOf(OptionsError);
      expect(err.message).toContain('(see provision --help)');
      expect(exitCodeForError(err)).toBe(EXIT.options);
    }
    expect(thrown(() => parseRunOptions(['-i', 'h', '--frobnicate'])).message).toContain("'--frobnicate'");
    expect(thrown(() => parseRunOptions(['-i', 'h', 'site.yaml'])).message).toBe("unexpected argument 'site.yaml' (see provision --help)");
  });

  it('-i is required, except for --help and --version', () => {
    const err = thrown(() => parseRunOptions(['--check']));
    expect(err).toBeInstanceOf(OptionsError);
    expect(err.message).toBe('--inventory/-i is required (or [defaults] inventory in ansible.cfg; see provision --help)');
    expect(parseRunOptions(['--help']).help).toBe(true);
    expect(parseRunOptions(['--version']).version).toBe(true);
  });
});

describe('parseExtraVars', () => {
  it('k=v: numbers and booleans coerced, quoted values kept as strings (spaces allowed), empty values', () => {
    expect(parseExtraVars([`port=8884 name="two words" single='x y' on=true off=False neg=-3 ratio=1.5 empty= quoted="42" url=http://h/x?a=b`])).toEqual({
      port: 8884,
      name: 'two words',
      single: 'x y',
      on: true,
      off: false,
      neg: -3,
      ratio: '1.5',
      empty: '',
      quoted: '42',
      url: 'http://h/x?a=b',
    });
  });

  it('JSON objects keep their types; several -e merge left to right (later wins)', () => {
    expect(parseExtraVars(['{"prometheus_cidr": ["10.0.0.0/8"], "persistence": false, "n": {"a": 1}}', 'persistence=true', '{"n": {"b": 2}}'])).toEqual({
      prometheus_cidr: ['10.0.0.0/8'],
      persistence: true,
      n: { b: 2 },
    });
    expect(parseExtraVars(['  {"a": 1}  '])).toEqual({ a: 1 });
  });

  it('invalid JSON is an options error (exit 5)', () => {
    const err = thrown(() => parseExtraVars(['{"a": 1,}']));
    expect(err).toBeInstanceOf(OptionsError);
    expect(err.message).toMatch(/^--extra-vars: invalid JSON: /);
    expect(exitCodeForError(err)).toBe(EXIT.options);
  });

  it('@file reads YAML (or JSON); a missing file is an options error naming it', () => {
    const f = join(tmp, 'vars.yml');
    writeFileSync(f, 'mqtt_tls_port: 8884\nmqtt_users:\n  - username: alice\n    password: wonderland\nbase_upgrade: yes\n');
    // YAML 1.1 as ansible-playbook reads -e @file (PyYAML): `yes` is true.
    expect(parseExtraVars([`@${f}`, 'mqtt_tls_port=8885'])).toEqual({ mqtt_tls_port: 8885, mqtt_users: [{ username: 'alice', password: 'wonderland' }], base_upgrade: true });
    const j = join(tmp, 'vars.json');
    writeFileSync(j, '{"a": [1, 2]}');
    expect(parseExtraVars([`@${j}`])).toEqual({ a: [1, 2] });
    const empty = join(tmp, 'empty.yml');
    writeFileSync(empty, '');
    expect(parseExtraVars([`@${empty}`])).toEqual({});
    const err = thrown(() => parseExtraVars([`@${join(tmp, 'nope.yml')}`]));
    expect(err).toBeInstanceOf(OptionsError);
    expect(err.message).toContain(`--extra-vars @${join(tmp, 'nope.yml')}: `);
    expect(exitCodeForError(err)).toBe(EXIT.options);
  });

  it('a key that is not a variable name is refused (or kept whole), never silently cut to its tail', () => {
    // src/cli/extra-vars.ts: the k=v regex is unanchored, so `my-var=1` sets `var` and `2fast=1` sets `fast`.
    for (const [item, whole] of [
      ['my-var=1', 'my-var'],
      ['2fast=1', '2fast'],
    ] as const) {
      let out: Record<string, unknown>;
      try {
        out = parseExtraVars([item]);
      } catch (err) {
        expect(err, item).toBeInstanceOf(OptionsError);
        continue;
      }
      expect(out, item).toEqual({ [whole]: 1 });
    }
  });

  it('@file whose YAML is not a mapping is an options error (a list or a string does not become keys "0", "1", …)', () => {
    // src/cli/extra-vars.ts: `Object.assign(out, parsed ?? {})` copies array indexes and string characters.
    for (const [name, text] of [
      ['list.yml', '- a\n- b\n'],
      ['scalar.yml', 'hello\n'],
    ] as const) {
      const f = join(tmp, name);
      writeFileSync(f, text);
      const err = thrown(() => parseExtraVars([`@${f}`]));
      expect(err, name).toBeInstanceOf(OptionsError);
    }
  });
});

describe('loadPlaybook errors name file:line:col and are input errors (exit 4)', () => {
  const write = (name: string, text: string) => {
    const f = join(tmp, name);
    writeFileSync(f, text);
    return f;
  };

  it('loads a valid playbook: role tags, serial list, max_fail_percentage', async () => {
    const f = write('ok.yaml', `- name: Brokers
  hosts: brokers
  serial: [1, "50%"]
  max_fail_percentage: 20
  roles:
    - base
    - { role: mosquitto, tags: [mq, broker] }
- hosts: loadbalancers
  roles: [base]
`);
    const pb = await loadPlaybook(f);
    expect(pb.plays.map((p) => ({ name: p.name, hosts: p.hosts, serial: p.serial, mfp: p.maxFailPercentage, line: p.line, roles: p.roles.map((r) => [r.role.name, r.tags]) }))).toEqual([
      { name: 'Brokers', hosts: 'brokers', serial: [1, '50%'], mfp: 20, line: 1, roles: [['base', []], ['mosquitto', ['mq', 'broker']]] },
      { name: 'loadbalancers', hosts: 'loadbalancers', serial: [], mfp: undefined, line: 8, roles: [['base', []]] },
    ]);
  });

  it('an unknown play keyword', async () => {
    const f = write('keyword.yaml', `- name: Brokers
  hosts: brokers
  become: true
  roles: [base]
`);
    const err = await rejected(loadPlaybook(f));
    expect(err).toBeInstanceOf(InputError);
    expect(err.message).toBe(`${f}:3:3 [0].become: unknown play keyword 'become' (allowed: name, hosts, roles, serial, max_fail_percentage, early_build)`);
    expect(exitCodeForError(err)).toBe(EXIT.input);
    expect(EXIT.input).toBe(4);
  });

  it('early_build: true or false (absent: true); anything else names file, line and key', async () => {
    const ok = write('early.yaml', `- hosts: brokers
  roles: [base]
- hosts: loadbalancers
  early_build: false
  roles: [base]
`);
    expect((await loadPlaybook(ok)).plays.map((p) => p.earlyBuild)).toEqual([undefined, false]);
    const bad = write('early-bad.yaml', `- hosts: brokers
  early_build: later
  roles: [base]
`);
    const err = await rejected(loadPlaybook(bad));
    expect(err.message).toBe(`${bad}:2:16 [0].early_build: 'early_build' must be true or false`);
    expect(exitCodeForError(err)).toBe(EXIT.input);
  });

  it('an unknown role, as a name and as { role: … }', async () => {
    const f = write('role.yaml', `- hosts: brokers
  roles:
    - base
    - mosquitoo
`);
    const err = await rejected(loadPlaybook(f));
    expect(err).toBeInstanceOf(InputError);
    expect(err.message).toMatch(new RegExp(`^${f.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:4:7 \\[0\\]\\.roles\\[1\\]: unknown role 'mosquitoo' \\(roles are folders under roles/: .*\\bmosquitto\\b.*\\)$`));
    expect(exitCodeForError(err)).toBe(EXIT.input);
    const g = write('role-map.yaml', `- hosts: brokers
  roles:
    - role: ../../etc
`);
    const err2 = await rejected(loadPlaybook(g));
    expect(err2).toBeInstanceOf(InputError);
    expect(err2.message.startsWith(`${g}:3:13 [0].roles[0]: unknown role '../../etc'`)).toBe(true);
  });

  it('a bad serial or max_fail_percentage', async () => {
    const cases: [string, string, RegExp][] = [
      ['serial-zero.yaml', '- hosts: all\n  serial: 0\n  roles: [base]\n', /:2:11 \[0\]\.serial: 'serial' must be a positive number, a percentage like "30%", or a list of them$/],
      ['serial-word.yaml', '- hosts: all\n  serial: half\n  roles: [base]\n', /:2:11 \[0\]\.serial: 'serial' must be/],
      ['serial-list.yaml', '- hosts: all\n  serial: [1, "x%"]\n  roles: [base]\n', /:2:11 \[0\]\.serial: 'serial' must be/],
      ['mfp.yaml', '- hosts: all\n  max_fail_percentage: 150\n  roles: [base]\n', /:2:24 \[0\]\.max_fail_percentage: 'max_fail_percentage' must be a number from 0 to 100$/],
    ];
    for (const [name, text, re] of cases) {
      const f = write(name, text);
      const err = await rejected(loadPlaybook(f));
      expect(err, name).toBeInstanceOf(InputError);
      expect(err.message.startsWith(`${f}:`), name).toBe(true);
      expect(err.message, name).toMatch(re);
      expect(exitCodeForError(err)).toBe(EXIT.input);
    }
  });

  it('structure and YAML errors: not a list, hosts missing, roles not a list, duplicate keys, bad syntax', async () => {
    const cases: [string, string, string][] = [
      ['not-list.yaml', 'hosts: all\nroles: [base]\n', ':1:1: a playbook is a list of plays'],
      ['no-hosts.yaml', '- name: x\n  roles: [base]\n', ":1:3 [0].hosts: 'hosts' must be a host pattern string"],
      ['roles-map.yaml', '- hosts: all\n  roles: base\n', ":2:10 [0].roles: 'roles' must be a list of role names"],
      ['dup.yaml', '- hosts: all\n  hosts: web\n  roles: [base]\n', ':2:3: '],
      ['syntax.yaml', '- hosts: all\n  roles: [base\n', ':'],
    ];
    for (const [name, text, tail] of cases) {
      const f = write(name, text);
      const err = await rejected(loadPlaybook(f));
      expect(err, name).toBeInstanceOf(InputError);
      expect(err.message.startsWith(`${f}${tail}`), `${name}: ${err.message}`).toBe(true);
      expect(exitCodeForError(err)).toBe(EXIT.input);
    }
  });

  it('a role entry with a single string tag (`tags: web`, valid in Ansible) loads, instead of crashing (exit 1)', async () => {
    // src/engine/playbook.ts: `(JSON.parse(JSON.stringify(t)) as unknown[]).map(String)` — a string has no .map:
    // TypeError, an internal error (exit 1) without file or line.
    const f = write('tags-string.yaml', '- hosts: all\n  roles:\n    - role: base\n      tags: web\n');
    let tags: string[] | undefined;
    try {
      tags = (await loadPlaybook(f)).plays[0]!.roles[0]!.tags;
    } catch (err) {
      expect.fail(`loading failed with ${(err as Error).name} (exit ${exitCodeForError(err)}): ${(err as Error).message}`);
    }
    expect(tags).toEqual(['web']);
  });
});

describe('exitCodeForError', () => {
  it('maps each error kind; anything unexpected is an internal error (1)', () => {
    expect(exitCodeForError(new InputError('bad', 'f.yml', 1, 1))).toBe(4);
    expect(exitCodeForError(new OptionsError('bad'))).toBe(5);
    expect(exitCodeForError(new TypeError('x.map is not a function'))).toBe(1);
    expect(exitCodeForError('a string')).toBe(1);
  });
});

describe('ansible-playbook flags and short option errors (issue 10 item 5)', () => {
  it('-u, -b/--become, --become-user, -K, --private-key/--key-file, --syntax-check, --list-tags are read', () => {
    expect(parseRunOptions(['-i', 'h', '-u', 'admin', '-b', '--become-user', 'root', '-K', '--private-key', '~/.ssh/k', '--syntax-check', '--list-tags'])).toMatchObject({
      connection: { user: 'admin', become: true, becomeUser: 'root', privateKeyFile: '~/.ssh/k' }, askBecomePass: true, syntaxCheck: true, listTags: true,
    });
    expect(parseRunOptions(['-i', 'h', '--become', '--key-file=/k']).connection?.privateKeyFile).toBe('/k');
    expect(parseRunOptions(['-i', 'h', '-bK'])).toMatchObject({ connection: { become: true }, askBecomePass: true });
  });

  it('an unknown option gets a short correct message (with "did you mean"), not parseArgs\' advice about --', () => {
    const e = thrown(() => parseRunOptions(['-i', 'h', '--becom']));
    expect(e).toBeInstanceOf(OptionsError);
    expect(e.message).toBe("unknown option '--becom' — did you mean '--become'? (see provision --help)");
    expect(thrown(() => parseRunOptions(['-i', 'h', '-X'])).message).toBe("unknown option '-X' (see provision --help)");
    expect(thrown(() => parseRunOptions(['-i'])).message).toBe('option --inventory needs a value (see provision --help)');
    expect(thrown(() => parseRunOptions(['-i', 'h', '--check=yes'])).message).toBe('option --check takes no value (see provision --help)');
  });

  it('--help lists every command and option the README documents', async () => {
    const { HELP } = await import('../../../src/cli/options.js');
    const readme = (await import('node:fs')).readFileSync(join(import.meta.dirname, '..', '..', '..', 'README.md'), 'utf8');
    const documented = [...readme.matchAll(/^\| `(-\w, )?(--[\w-]+)/gm)].map((m) => m[2]!);
    expect(documented.length).toBeGreaterThan(10);
    for (const o of documented) expect(HELP, o).toContain(o);
    for (const c of ['verify', 'sandbox up N', 'add', 'stop H', 'start H', 'reboot H', 'exec H -- CMD', 'demo [down]']) expect(HELP, c).toContain(c);
  });
});

describe('provision verify options', () => {
  it('--help prints its usage and exits 0; an unknown option is a bad option (exit 5) naming it', async () => {
    const { VERIFY_HELP } = await import('../../../src/cli/verify-options.js');
    const { dispatch } = await import('../../../src/cli/main.js');
    const { exitCodeFor } = await import('../../../src/cli/exit-codes.js');
    expect(VERIFY_HELP).toContain('provision verify -i INVENTORY');
    const { captureStdout } = await import('../../support/capture-stdout.js');
    const { value, out } = await captureStdout(() => dispatch(['verify', '--help']));
    expect(exitCodeFor(value)).toBe(0);
    expect(out).toContain('--known-hosts FILE');
    const e = await rejected(dispatch(['verify', '-i', 'x', '--jsn', 'f']));
    expect(e.message).toBe("verify: unknown option '--jsn' — did you mean '--json'? (see provision verify --help)");
    expect(exitCodeForError(e)).toBe(EXIT.options);
  });
});
