/**
 * issue 9 item 8: every command's argv becomes its typed options in src/cli/, starting from the one builder of
 * defaults in src/commands/options.ts; verify reads its hosts with run's flag handling.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readAnsibleCfg } from '../../../src/cli/ansible-cfg.js';
import { parseDemoOptions } from '../../../src/cli/demo-options.js';
import { parseExecOptions } from '../../../src/cli/exec-options.js';
import { EXIT, exitCodeForError } from '../../../src/cli/exit-codes.js';
import { parseInventoryOptions } from '../../../src/cli/inventory-options.js';
import { parseRunOptions } from '../../../src/cli/options.js';
import { parsePkiOptions } from '../../../src/cli/pki-options.js';
import { parseSandboxOptions, SandboxUsageError } from '../../../src/cli/sandbox-options.js';
import { parseVerifyOptions } from '../../../src/cli/verify-options.js';
import { demoOptions, execOptions, inventoryListingOptions, pkiOptions, runOptions, sandboxOptions, verifyOptions } from '../../../src/commands/options.js';

const tmp = mkdtempSync(join(tmpdir(), 'provision-command-options-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected an error, nothing was thrown');
}

/** The options without the parser's own `help`/`version` answers. */
function withoutHelp<T extends object>(o: T): Omit<T, 'help' | 'version'> {
  const { help: _h, version: _v, ...rest } = o as T & { help?: unknown; version?: unknown };
  return rest;
}

describe('the defaults: what a command is given when no flag says otherwise', () => {
  it('each parser, given only what is required, yields exactly its builder\'s defaults', () => {
    expect(withoutHelp(parseRunOptions(['-i', 'h.yml']))).toEqual(runOptions({ inventories: ['h.yml'] }));
    expect(withoutHelp(parseVerifyOptions(['-i', 'h.yml']))).toEqual(verifyOptions({ inventories: ['h.yml'] }));
    expect(withoutHelp(parseExecOptions(['all', '-i', 'h.yml', '--', 'true']))).toEqual(execOptions({ inventories: ['h.yml'], pattern: 'all', command: 'true' }));
    expect(withoutHelp(parseInventoryOptions(['-i', 'h.yml', '--list']))).toEqual(inventoryListingOptions({ inventories: ['h.yml'], listing: { list: true } }));
    expect(withoutHelp(parsePkiOptions(['rotate-ca', 'start', '-i', 'h.yml']))).toEqual(pkiOptions({ inventories: ['h.yml'], stage: 'start' }));
    expect(parseSandboxOptions(['status'])).toEqual(sandboxOptions({ action: 'status', named: false }));
    expect(parseDemoOptions([])).toEqual(demoOptions());
  });

  it('the defaults are complete: every phase, 100 forks (exec 5), nothing filtered, no check/diff, sandbox "default"', () => {
    expect(runOptions({ inventories: ['h'] })).toEqual({
      inventories: ['h'], extraVars: [], phases: ['build', 'configure', 'runtime', 'cluster'], tags: [], skipTags: [], check: false, diff: false,
      forks: 100, listHosts: false, listTasks: false, verbose: false, acceptNewHostKeys: false, plain: false,
    });
    expect(verifyOptions({ inventories: ['h'] })).toEqual({ inventories: ['h'], extraVars: [], acceptNewHostKeys: false });
    expect(execOptions({ inventories: ['h'], pattern: 'p', command: 'c' })).toEqual({ inventories: ['h'], pattern: 'p', command: 'c', extraVars: [], forks: 5, acceptNewHostKeys: false });
    expect(sandboxOptions({ action: 'down', all: false }).name).toBe('default');
    expect(demoOptions()).toEqual({ down: false, upstreamExporter: false });
    // A given value wins over its default, and the defaults are a fresh object each time.
    const a = runOptions({ inventories: ['h'], forks: 3 });
    a.phases.pop();
    expect(runOptions({ inventories: ['h'] })).toMatchObject({ forks: 100, phases: ['build', 'configure', 'runtime', 'cluster'] });
  });
});

describe('provision verify reads its hosts as a run does', () => {
  const shared = ['-i', 'a.yml', '-i', 'b.ini', '-l', 'brokers:!mq3', '-e', 'x=1', '--vault-id', 'dev@pw.txt', '-u', 'admin', '-b', '--become-user', 'root', '-K',
    '--private-key', '/k', '--ssh-common-args', '-o ProxyJump=jump', '-T', '7', '--known-hosts', 'kh', '--accept-new-host-keys'];
  const connectPart = (o: object) => {
    const { inventories, limit, extraVars, vault, connection, askBecomePass, knownHosts, acceptNewHostKeys } = o as Record<string, unknown>;
    return { inventories, limit, extraVars, vault, connection, askBecomePass, knownHosts, acceptNewHostKeys };
  };

  it('-i, -l, -e, vault, connection flags and host keys: the same options as for a run', () => {
    const verify = parseVerifyOptions([...shared, '--json', 'v.json']);
    expect(connectPart(verify)).toEqual(connectPart(parseRunOptions(shared)));
    expect(verify).toMatchObject({
      inventories: ['a.yml', 'b.ini'], limit: 'brokers:!mq3', extraVars: ['x=1'], vault: { vaultIds: ['dev@pw.txt'] }, askBecomePass: true, knownHosts: 'kh', acceptNewHostKeys: true, json: 'v.json',
      connection: { user: 'admin', become: true, becomeUser: 'root', privateKeyFile: '/k', sshCommonArgs: '-o ProxyJump=jump', timeoutSeconds: 7 },
    });
  });

  it('ansible.cfg: its inventory, remote_user, become, timeout and host_key_checking, under the command line', () => {
    const file = join(tmp, 'ansible.cfg');
    writeFileSync(file, '[defaults]\ninventory = inv/hosts.yml\nremote_user = deploy\nhost_key_checking = False\ntimeout = 20\n[privilege_escalation]\nbecome = true\n');
    const cfg = readAnsibleCfg(file, { HOME: tmp });
    expect(connectPart(parseVerifyOptions([], cfg))).toEqual(connectPart(parseRunOptions([], cfg)));
    expect(parseVerifyOptions([], cfg)).toMatchObject({ inventories: [join(tmp, 'inv/hosts.yml')], acceptNewHostKeys: true, connection: { user: 'deploy', become: true, timeoutSeconds: 20 } });
    expect(parseVerifyOptions(['-i', 'other.yml', '-u', 'me'], cfg)).toMatchObject({ inventories: ['other.yml'], connection: { user: 'me' } });
  });

  it('bad options are bad options (exit 5), named as for a run', () => {
    const noInventory = thrown(() => parseVerifyOptions([]));
    expect(noInventory.message).toBe('verify needs --inventory/-i (see provision verify --help)');
    expect(exitCodeForError(noInventory)).toBe(EXIT.options);
    const timeout = thrown(() => parseVerifyOptions(['-i', 'h', '-T', 'soon']));
    expect(timeout.message).toBe(thrown(() => parseRunOptions(['-i', 'h', '-T', 'soon'])).message);
    expect(exitCodeForError(timeout)).toBe(EXIT.options);
    expect(thrown(() => parseVerifyOptions(['-i', 'h', '--limt', 'x'])).message).toBe("verify: unknown option '--limt' — did you mean '--limit'? (see provision verify --help)");
    // --help needs no inventory.
    expect(parseVerifyOptions(['--help']).help).toBe(true);
  });
});

describe('the other commands\' argv', () => {
  it('exec: PATTERN, COMMAND after --, forks and connection flags; its messages unchanged', () => {
    expect(parseExecOptions(['web', '-i', 'h', '-f', '2', '-b', '--become-user', 'nobody', '--ssh-common-args', '-o X=y', '--', 'id', '-un'])).toMatchObject({
      pattern: 'web', command: 'id -un', forks: 2, connection: { become: true, becomeUser: 'nobody', sshCommonArgs: '-o X=y' },
    });
    expect(parseExecOptions(['-h']).help).toBe(true);
    expect(thrown(() => parseExecOptions(['web', '-i', 'h'])).message).toMatch(/^provision exec needs a COMMAND after '--'/);
    expect(thrown(() => parseExecOptions(['web', '-i', 'h', '-f', '0', '--', 'x'])).message).toBe("--forks must be a whole number from 1 to 500, got '0'");
    expect(exitCodeForError(thrown(() => parseExecOptions(['--', 'x'])))).toBe(EXIT.options);
  });

  it('inventory: exactly one of --list, --graph [GROUP], --host', () => {
    expect(parseInventoryOptions(['-i', 'h', '--graph', 'brokers'])).toMatchObject({ listing: { graph: true, group: 'brokers' } });
    expect(parseInventoryOptions(['-i', 'h', '--host', 'mq1'])).toMatchObject({ listing: { host: 'mq1' } });
    expect(thrown(() => parseInventoryOptions(['-i', 'h', '--list', '--graph'])).message).toMatch(/^provision inventory needs exactly one of --list, --graph, --host/);
  });

  it('pki: rotate-ca and a stage, with an inventory', () => {
    expect(exitCodeForError(thrown(() => parsePkiOptions(['rotate-ca', 'later', '-i', 'h'])))).toBe(EXIT.options);
    expect(thrown(() => parsePkiOptions(['rotate-ca', 'start'])).message).toBe('pki rotate-ca needs --inventory/-i');
  });

  it('sandbox: every usage mistake is found before anything is done', () => {
    expect(parseSandboxOptions([])).toEqual({ help: true, asked: false });
    expect(parseSandboxOptions(['--help'])).toEqual({ help: true, asked: true });
    expect(parseSandboxOptions(['up', '--name', 'x', '--names', 'a,b'])).toEqual({ action: 'up', name: 'x', count: 2, names: ['a', 'b'] });
    expect(parseSandboxOptions(['add', '--prefix', 'mq'])).toEqual({ action: 'add', name: 'default', count: 1, prefix: 'mq' });
    expect(parseSandboxOptions(['exec', 'h1', '--', 'echo', 'a b'])).toEqual({ action: 'exec', name: 'default', host: 'h1', command: "echo 'a b'" });
    expect(parseSandboxOptions(['exec', 'h1', '--', 'echo $HOME'])).toMatchObject({ command: 'echo $HOME' });
    for (const [args, message] of [
      [['up'], 'missing host count N'], [['up', '0'], 'invalid host count "0"'], [['down', '--all', '--name', 'x'], 'use either --name or --all'],
      [['stop'], 'missing HOST'], [['exec', 'h1'], 'missing COMMAND (after --)'], [['fly'], 'unknown sandbox command "fly"'], [['up', '2', '--nmae', 'x'], 'unknown option --nmae'],
    ] as [string[], string][]) {
      const e = thrown(() => parseSandboxOptions(args));
      expect(e, args.join(' ')).toBeInstanceOf(SandboxUsageError);
      expect(e.message).toBe(message);
    }
  });

  it('demo: down, --upstream-exporter', () => {
    expect(parseDemoOptions(['down'])).toEqual({ down: true, upstreamExporter: false });
    expect(parseDemoOptions(['--upstream-exporter'])).toEqual({ down: false, upstreamExporter: true });
  });
});
