import * as net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { planDynsec } from '../../src/dynsec/plan.js';
import { mqttRolesSchema, mqttUsersSchema } from '../../src/dynsec/schema.js';
import { topicFilterProblem } from '../../src/dynsec/topic.js';
import { StepError } from '../../src/errors.js';
import { expandHostRange } from '../../src/inventory/host-range.js';
import { zMqttName } from '../../src/inventory/schema.js';
import { YAML_LIMITS, locatedValue, parseYamlFile } from '../../src/inventory/yaml-values.js';
import { ControlClient } from '../../src/mqtt/control-client.js';
import { Secret } from '../../src/secrets.js';
import { aclLine } from '../../roles/mosquitto_config/password-file.js';
import { startLocalBroker, type LocalBroker } from '../fixtures/cedalo-ha-simulator/local-broker.js';

const VALID = ['#', '+', '/', 'a//b', 'sensors/#', 'a/+/b', '+/+', '$SYS/#', 'é/ü', 'a b/c', '/#'];
const INVALID = ['a/#/b', 'a#', 'sensors/a#', 'a/b+', 'sensors+', '#/a', '++', ''];

describe('MQTT topic filters (issue 8 item 8)', () => {
  it('accepts filters and names what is wrong with the others', () => {
    for (const t of VALID) expect(topicFilterProblem(t), t).toBeUndefined();
    expect(topicFilterProblem('a/#/b')).toBe(`'#' in level 2 ("#"): '#' must be the whole last level`);
    expect(topicFilterProblem('a/b+')).toBe(`'+' in level 2 ("b+"): '+' must be a whole level`);
    expect(topicFilterProblem('')).toBe('an empty topic');
    expect(topicFilterProblem('a'.repeat(65535))).toBeUndefined();
    expect(topicFilterProblem('a'.repeat(65536))).toBe('65536 bytes of UTF-8 (at most 65535)');
    expect(topicFilterProblem('é'.repeat(32768))).toBe('65536 bytes of UTF-8 (at most 65535)');
    expect(topicFilterProblem('sensors/#\ntopic readwrite #')).toBe('a control character (U+000A (LF) at character 10)');
    expect(topicFilterProblem('a\u0000b')).toMatch(/U\+0000 \(NUL\)/);
  });

  describe('agrees with a real Mosquitto dynamic-security plugin', () => {
    let broker: LocalBroker;
    let admin: ControlClient;
    beforeAll(async () => {
      broker = await startLocalBroker({ adminPassword: 'e-hostile-admin-pw' });
      admin = await ControlClient.connect({
        stream: () => net.connect({ host: '127.0.0.1', port: broker.port }),
        username: 'admin',
        password: new Secret('e-hostile-admin-pw'),
        timeoutMs: 5000,
      });
      await admin.request('dynamic-security', [{ command: 'createRole', rolename: 'e-topics' }]);
    }, 30_000);
    afterAll(async () => {
      await admin?.close();
      await broker?.stop();
    });

    it('every acltype: the broker refuses exactly what topicFilterProblem refuses', async () => {
      for (const acltype of ['publishClientSend', 'publishClientReceive', 'subscribeLiteral', 'subscribePattern', 'unsubscribeLiteral', 'unsubscribePattern']) {
        const topics = [...VALID, ...INVALID.filter((t) => t !== '')];
        const responses = await admin.request('dynamic-security', topics.map((topic) => ({ command: 'addRoleACL', rolename: 'e-topics', acltype, topic, allow: true })));
        const refusedByBroker = topics.filter((_, i) => responses[i]!.error !== undefined);
        const refusedByUs = topics.filter((t) => topicFilterProblem(t) !== undefined);
        expect({ acltype, refused: refusedByBroker }).toEqual({ acltype, refused: refusedByUs });
        await admin.request('dynamic-security', topics.filter((t) => !refusedByBroker.includes(t)).map((topic) => ({ command: 'removeRoleACL', rolename: 'e-topics', acltype, topic })));
      }
    });
  });

  it('planDynsec refuses a bad topic before any command is planned (nothing half-applied)', () => {
    const empty = { defaultACLAccess: {}, clients: [], roles: [], groups: [] };
    const desired = { clients: [], groups: [], protected: ['admin'], roles: [{ rolename: 'r', acls: [{ acltype: 'publishClientSend', topic: 'a/#/b', allow: true }] }] };
    expect(() => planDynsec(empty, desired)).toThrow(StepError);
    expect(() => planDynsec(empty, desired)).toThrow(/role "r": ACL topic "a\/#\/b" is not a valid MQTT topic filter: '#' in level 2/);
  });
});

describe('control characters (issue 8 item 7)', () => {
  it('names refuse every C0 control and DEL, and say which and where', () => {
    for (let code = 0; code < 32; code++) expect(zMqttName.safeParse(`bob${String.fromCharCode(code)}`).success, `U+${code}`).toBe(false);
    expect(zMqttName.safeParse('bob\u007f').success).toBe(false);
    const r = zMqttName.safeParse('bob\nuser admin');
    expect(!r.success && r.error.issues[0]!.message).toBe('expected a name without control characters (found U+000A (LF) at character 4)');
    expect(zMqttName.safeParse('plant-a é 1').success).toBe(true);
  });

  it('users, roles and ACL topics from the inventory refuse the injection that escalated privileges', () => {
    const roles = mqttRolesSchema.safeParse([{ rolename: 'sensors', acls: [{ acltype: 'subscribePattern', topic: 'sensors/#\ntopic readwrite #' }] }]);
    expect(roles.success).toBe(false);
    expect(!roles.success && roles.error.issues[0]!.path).toEqual([0, 'acls', 0, 'topic']);
    const users = mqttUsersSchema.safeParse([{ username: 'bob', password: 'pw\nsecond' }]);
    expect(!users.success && users.error.issues[0]!.path).toEqual([0, 'password']);
    expect(JSON.stringify(!users.success && users.error.issues)).not.toContain('second');
  });

  it('the ACL file writer refuses what it cannot write faithfully (second line of defence)', () => {
    expect(aclLine('topic read', 'sensors/#')).toBe('topic read sensors/#');
    expect(() => aclLine('topic read', 'sensors/#\ntopic readwrite #')).toThrow(/control character/);
    expect(() => aclLine('user', 'bob\nuser admin')).toThrow(StepError);
    expect(() => aclLine('topic write', ' leading')).toThrow(/leading or trailing blanks/);
    expect(() => aclLine('topic write', 'a/#/b')).toThrow(/'#' must be the whole last level/);
  });
});

describe('resource bombs (issue 8 item 9)', () => {
  const bomb = ['l0: &l0 [x, x, x, x, x, x, x, x, x, x]', ...Array.from({ length: 8 }, (_, i) => `l${i + 1}: &l${i + 1} [${Array(10).fill(`*l${i}`).join(', ')}]`)].join('\n');

  it('an alias bomb in a value stops at the per-file limit, at an alias, instead of expanding 10^9 values', () => {
    const y = parseYamlFile('bomb.yml', bomb, '.');
    const root = y.doc.contents as unknown as { items: { value: unknown }[] };
    expect(() => root.items.forEach((p) => locatedValue(y, p.value, { file: 'bomb.yml', line: 1, column: 1 }))).toThrow(
      /^bomb\.yml:\d+:\d+: YAML aliases in this file expand to more than 100000 values \(an alias bomb\?\)/,
    );
  });

  it('legitimate anchors stay well inside the limits', () => {
    const text = ['base: &base { port: 1883, tls: true }', ...Array.from({ length: 500 }, (_, i) => `h${i}: { <<: *base, id: ${i}, again: *base }`)].join('\n');
    const y = parseYamlFile('ok.yml', text, '.');
    const root = y.doc.contents as unknown as { items: { value: unknown }[] };
    for (const p of root.items) locatedValue(y, p.value, { file: 'ok.yml', line: 1, column: 1 });
    expect(y.spent.aliases).toBeLessThan(YAML_LIMITS.aliases);
  });

  it('deep nesting: a clear message with the file and the limit, not a stack overflow', () => {
    expect(() => parseYamlFile('deep.yml', `x: ${'['.repeat(50000)}${']'.repeat(50000)}`, '.')).toThrow('deep.yml: YAML nested too deeply to parse (values may nest at most 100 levels)');
  });

  it('a file over the size limit is refused before parsing', () => {
    expect(() => parseYamlFile('big.yml', `x: "${'y'.repeat(YAML_LIMITS.fileBytes)}"`, '.')).toThrow(/^big\.yml: the file is 4\.0 MiB; the limit is 4 MiB per file$/);
  });

  it('host ranges multiply: the product is bounded', () => {
    expect(expandHostRange('mq[1:3][a:b]')).toEqual(['mq1a', 'mq1b', 'mq2a', 'mq2b', 'mq3a', 'mq3b']);
    expect(() => expandHostRange('h[1:99999][1:99999]')).toThrow("host range 'h[1:99999][1:99999]' expands to more than 100000 hosts");
  });
});
