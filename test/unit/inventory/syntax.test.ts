import { describe, expect, it } from 'vitest';
import { expandHostRange, splitHostPort } from '../../../src/inventory/host-range.js';
import { splitHostPattern } from '../../../src/inventory/patterns.js';
import { parsePyLiteral } from '../../../src/inventory/py-literal.js';
import { shlexSplit } from '../../../src/inventory/shlex.js';

describe('Python literals (INI values)', () => {
  it.each([
    ['42', 42], ['-7', -7], ['0x1F', 31], ['1_000', 1000], ['1.5', 1.5], ['1e3', 1000], ['True', true], ['None', null],
    ["'a' \"b\"", 'ab'], ["'tab\\there'", 'tab\there'], ["r'\\d+'", '\\d+'], ['[1, (2, 3), {4}]', [1, [2, 3], [4]]],
    ["{'k': [1], 2: 'x'}", { k: [1], 2: 'x' }], ['1, 2', [1, 2]], ['(5)', 5], ['42  # comment', 42],
  ])('%s', (text, value) => {
    expect(parsePyLiteral(text)).toEqual({ ok: true, value });
  });

  it.each(['true', 'yes', '0777', '010', '56L', '1.2.3', '10.0.0.1', '10-5', 'foo', "{{ lookup('env', 'X') }}", '[1, 2', "'open", '', 'set()', '1j'])(
    '%s is not a literal',
    (text) => {
      expect(parsePyLiteral(text)).toEqual({ ok: false });
    },
  );
});

describe('shlex (INI host lines)', () => {
  it('splits like Python shlex.split(comments=True)', () => {
    expect(shlexSplit(`h1  a="x y" b='it''s' c=d\\ e f="q\\"x" # comment`).map((w) => w.text)).toEqual(['h1', 'a=x y', 'b=its', 'c=d e', 'f=q"x']);
    expect(shlexSplit('  h1 k=v').map((w) => w.start)).toEqual([2, 5]);
    expect(() => shlexSplit('h1 a="x')).toThrow('No closing quotation');
  });
});

describe('host names', () => {
  it('splits ports like Ansible parse_address', () => {
    expect(splitHostPort('mq1:2222')).toEqual({ name: 'mq1', port: 2222 });
    expect(splitHostPort('mq[1:3]:22')).toEqual({ name: 'mq[1:3]', port: 22 });
    expect(splitHostPort('[2001:db8::1]:2200')).toEqual({ name: '2001:db8::1', port: 2200 });
    expect(splitHostPort('fe80::1')).toEqual({ name: 'fe80::1' });
    expect(() => splitHostPort('mq1:')).toThrow('trailing');
    expect(() => splitHostPort('mq1:0')).toThrow('invalid port');
  });

  it('expands ranges like Ansible expand_hostname_range', () => {
    expect(expandHostRange('mq[1:3]')).toEqual(['mq1', 'mq2', 'mq3']);
    expect(expandHostRange('mq[:2]')).toEqual(['mq0', 'mq1', 'mq2']);
    expect(expandHostRange('r[a:b]n[01:02]')).toEqual(['ran01', 'ran02', 'rbn01', 'rbn02']);
    expect(() => expandHostRange('mq[3:1]')).toThrow('begin <= end');
    expect(() => expandHostRange('mq[1]')).toThrow('[begin:end]');
  });

  it('splits host patterns on commas or on colons outside brackets', () => {
    expect(splitHostPattern('web:!db:&prod')).toEqual(['web', '!db', '&prod']);
    expect(splitHostPattern('web[0:2], db')).toEqual(['web[0:2]', 'db']);
    expect(splitHostPattern('fe80::1')).toEqual(['fe80::1']);
  });
});
