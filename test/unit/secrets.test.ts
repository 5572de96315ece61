/**
 * redact(): every secret value is masked wherever it stands as a whole value, and only there — a short secret that
 * is also an ordinary word must not eat into the tool's own messages (which would also tell the reader the secret).
 */
import { describe, expect, it } from 'vitest';
import { MASK, ownText, redact, registerSecretValue, Secret } from '../../src/secrets.js';

describe('redact', () => {
  it('masks a secret value standing alone, in assignments, quotes and URLs', () => {
    new Secret('S3cretPw!');
    expect(redact('MQTT_PASS=S3cretPw!')).toBe(`MQTT_PASS=${MASK}`);
    expect(redact('{"password":"S3cretPw!"}')).toBe(`{"password":"${MASK}"}`);
    expect(redact('mqtts://u:S3cretPw!@h:8883 and again S3cretPw!')).toBe(`mqtts://u:${MASK}@h:8883 and again ${MASK}`);
  });

  it('masks only whole values: a short secret inside a longer word is left alone', () => {
    new Secret('pass');
    expect(redact('the password file; pass')).toBe(`the password file; ${MASK}`);
    expect(redact('bypass, passive, pass=1')).toBe(`bypass, passive, ${MASK}=1`);
  });

  it('never masks the words of the tool\'s own message templates, even when a secret is the same word', () => {
    const template = ownText('sudo refused the become password (wrong ansible_become_password?)');
    new Secret('wrong');
    expect(redact(`[mq2] ${template}`)).toBe('[mq2] sudo refused the become password (wrong ansible_become_password?)');
    // ... but the same word outside the template is the secret and is masked.
    expect(redact(`${template}\nsudo: password was wrong`)).toBe(`${template}\nsudo: password was ${MASK}`);
  });

  it('an encoded form registered as sitting inside longer text (a password\'s hex in a packet) is masked there too', () => {
    registerSecretValue(Buffer.from('AlicePw1').toString('hex'), { inside: true });
    expect(redact('tcp-check send-binary 101f00044d51545404c2003c000268630005616c6963650008416c696365507731')).toBe(`tcp-check send-binary 101f00044d51545404c2003c000268630005616c6963650008${MASK}`);
  });
});
