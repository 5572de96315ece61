import { pbkdf2Sync, timingSafeEqual } from 'node:crypto';
import type { FactQuery, HostContext, Step } from '../../src/engine/types.js';
import { desiredAuthFromInventory } from '../../src/dynsec/index.js';
import { topicFilterProblem } from '../../src/dynsec/topic.js';
import { StepError } from '../../src/errors.js';
import { hasControlChars } from '../../src/inventory/schema.js';
import { file } from '../../src/operations/file.js';
import type { Secret } from '../../src/secrets.js';
import { shq } from '../../src/transport/shell-quote.js';
import { BROKER_PATHS } from '../../src/cluster/broker.js';

interface Login {
  username: string;
  password: Secret;
}

const passwdHashes: FactQuery<Map<string, string>> = {
  key: 'mosquitto:passwd',
  script: `cat ${BROKER_PATHS.passwordFile} 2>/dev/null || true`,
  parse: (out) => new Map(out.split('\n').filter((l) => l.includes(':')).map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 1)])),
};

/** mosquitto_passwd's `$7$iterations$salt$hash` is PBKDF2-SHA512: the controller can check a password without it leaving. */
export function hashMatches(hash: string | undefined, password: Secret): boolean {
  const m = hash?.match(/^\$7\$(\d+)\$([^$]+)\$(.+)$/);
  if (!m) return false;
  const expected = Buffer.from(m[3]!, 'base64');
  const got = pbkdf2Sync(password.reveal(), Buffer.from(m[2]!, 'base64'), Number(m[1]), expected.length, 'sha512');
  return got.length === expected.length && timingSafeEqual(got, expected);
}

/**
 * One ACL-file line from a keyword and a value. The file is line-oriented and has no escapes: a value with a
 * control character (a LF starts a new `topic …` line) or surrounding blanks (trimmed by the broker) cannot be
 * written faithfully. Validation refuses these at load time; this is the second line of defence.
 */
export function aclLine(keyword: 'user' | 'topic read' | 'topic write', value: string): string {
  const problem = hasControlChars(value) ? 'a control character' : value.trim() !== value ? 'leading or trailing blanks' : value === '' ? 'nothing' : undefined;
  if (problem) throw new StepError(`refusing to write ACL file line '${keyword} …': the value ${JSON.stringify(value)} has ${problem}`);
  if (keyword !== 'user') {
    const bad = topicFilterProblem(value);
    if (bad) throw new StepError(`refusing to write ACL file line '${keyword} ${JSON.stringify(value)}': ${bad}`);
  }
  return `${keyword} ${value}`;
}

function aclFor(vars: Record<string, unknown>, system: Login[]): string {
  const auth = desiredAuthFromInventory(vars);
  const roles = new Map(auth.roles.map((r) => [r.rolename, r]));
  const lines = ['# Managed by provision.', aclLine('user', system[1]!.username), aclLine('topic read', '$SYS/#'), ''];
  for (const c of auth.clients) {
    lines.push(aclLine('user', c.username));
    for (const ref of c.roles)
      for (const a of roles.get(ref.rolename)?.acls ?? []) {
        if (!a.allow) continue;
        const access = a.acltype === 'publishClientSend' ? 'write' : a.acltype.startsWith('subscribe') || a.acltype === 'publishClientReceive' ? 'read' : undefined;
        if (access) lines.push(aclLine(`topic ${access}`, a.topic));
      }
    lines.push('');
  }
  return `${lines.join('\n')}\n`;
}

/** The password-file backend: hashes made on the host by mosquitto_passwd, the password on its stdin. */
export function passwordFileSteps(ctx: HostContext & { vars: Record<string, unknown> }, creds: { admin: Login; exporter: Login; health: Login }): Step[] {
  const system = [creds.admin, creds.exporter, creds.health];
  const users: Login[] = [...system, ...desiredAuthFromInventory(ctx.vars).clients.map((c) => ({ username: c.username, password: c.password }))];
  const passwords: Step = {
    name: 'password file (hashed on the host)',
    facts: [passwdHashes],
    notify: ['restart mosquitto'],
    plan: (_c, facts) => {
      const current = facts.get(passwdHashes);
      const wanted = new Set(users.map((u) => u.username));
      const set = users.filter((u) => !hashMatches(current.get(u.username), u.password));
      const remove = [...current.keys()].filter((u) => !wanted.has(u));
      if (!set.length && !remove.length) return { changes: [] };
      const f = BROKER_PATHS.passwordFile;
      for (const u of set) assertPasswdEntry(u);
      const script = [
        'set -e',
        `test -f ${f} || install -m 0640 -o root -g mosquitto /dev/null ${f}`,
        ...set.map((u) => `printf '%s\\n%s\\n' ${shq(u.password.reveal())} ${shq(u.password.reveal())} | mosquitto_passwd ${f} ${shq(u.username)} >/dev/null`),
        ...remove.map((u) => `mosquitto_passwd -D ${f} ${shq(u)}`),
        `chown root:mosquitto ${f}; chmod 0640 ${f}`,
      ].join('\n');
      return { changes: [{ summary: [...set.map((u) => `set password of ${u.username}`), ...remove.map((u) => `remove ${u}`)].join(', '), actions: [{ script }] }] };
    },
  };
  return [passwords, file({ name: 'ACL file', path: BROKER_PATHS.aclFile, content: aclFor(ctx.vars, system), owner: 'root', group: 'mosquitto', mode: '0640', backup: true, notify: ['restart mosquitto'] })];
}

/** mosquitto_passwd stores `user:hash` lines and reads the password as one line: neither may break that. */
function assertPasswdEntry(u: Login): void {
  if (hasControlChars(u.username) || u.username.includes(':')) throw new StepError(`refusing to write password file entry for ${JSON.stringify(u.username)}: a user name must not contain ':' or control characters`);
  if (/[\r\n\u0000]/.test(u.password.reveal())) throw new StepError(`refusing to set the password of ${u.username}: it contains CR, LF or NUL`);
}
