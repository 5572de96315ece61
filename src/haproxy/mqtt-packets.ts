/**
 * Minimal MQTT 3.1.1 packet builders used by HAProxy's `tcp-check` health check.
 *
 * HAProxy only knows how to send raw bytes (`tcp-check send-binary <hex>`) and compare raw bytes
 * (`tcp-check expect binary <hex>`), so the CONNECT of the health-check user is built here, once,
 * and written into haproxy.cfg as hex.
 */
import type { Secret } from '../secrets.js';

/** MQTT DISCONNECT (type 14, remaining length 0): lets the broker close the check's session cleanly. */
export const MQTT_DISCONNECT: Buffer = Buffer.from('e000', 'hex');

/** CONNACK, remaining length 2, session-present 0, return code 0 (Connection Accepted). */
export const CONNACK_ACCEPTED_HEX = '20020000';

/** Largest "remaining length" the 4-byte MQTT variable-length integer can carry. */
export const MQTT_MAX_REMAINING_LENGTH = 268_435_455;

export interface MqttConnectOptions {
  /** Client identifier. Give every load balancer its own: two checks sharing an id kick each other off the broker. */
  clientId: string;
  username: string;
  password: Secret;
  /** Keep-alive in seconds, 0..65535 (default 60; the check disconnects right after the CONNACK anyway). */
  keepalive?: number;
}

/** Encodes `n` as an MQTT variable byte integer (1 to 4 bytes, 7 bits each, low group first). */
export function encodeRemainingLength(n: number): Buffer {
  if (!Number.isInteger(n) || n < 0 || n > MQTT_MAX_REMAINING_LENGTH) {
    throw new RangeError(`MQTT remaining length out of range: ${n}`);
  }
  const bytes: number[] = [];
  do {
    let digit = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) digit |= 0x80;
    bytes.push(digit);
  } while (n > 0);
  return Buffer.from(bytes);
}

/** MQTT "UTF-8 encoded string" / "binary data": 2-byte big-endian length, then the bytes. */
function lengthPrefixed(what: string, data: Buffer): Buffer {
  if (data.length > 0xffff) throw new RangeError(`MQTT ${what} is longer than 65535 bytes (${data.length})`);
  const len = Buffer.alloc(2);
  len.writeUInt16BE(data.length, 0);
  return Buffer.concat([len, data]);
}

function utf8Field(what: string, value: string): Buffer {
  if (value.includes('\u0000')) throw new RangeError(`MQTT ${what} must not contain U+0000`);
  return lengthPrefixed(what, Buffer.from(value, 'utf8'));
}

/**
 * An MQTT 3.1.1 CONNECT with clean session, user name and password:
 * fixed header 0x10 + remaining length (varint), protocol name "MQTT", level 4, flags 0xC2,
 * keep-alive, then the payload: client id, user name, password.
 */
export function mqttConnectPacket({ clientId, username, password, keepalive = 60 }: MqttConnectOptions): Buffer {
  if (!Number.isInteger(keepalive) || keepalive < 0 || keepalive > 0xffff) {
    throw new RangeError(`MQTT keepalive must be an integer in 0..65535, got ${keepalive}`);
  }
  if (clientId.length === 0) throw new RangeError('MQTT client id of the health check must not be empty');
  const keepaliveBytes = Buffer.alloc(2);
  keepaliveBytes.writeUInt16BE(keepalive, 0);
  const variableHeader = Buffer.concat([
    utf8Field('protocol name', 'MQTT'),
    Buffer.from([0x04 /* protocol level 3.1.1 */, 0xc2 /* user name + password + clean session */]),
    keepaliveBytes,
  ]);
  const payload = Buffer.concat([
    utf8Field('client id', clientId),
    utf8Field('user name', username),
    lengthPrefixed('password', Buffer.from(password.reveal(), 'utf8')),
  ]);
  const remaining = variableHeader.length + payload.length;
  return Buffer.concat([Buffer.from([0x10]), encodeRemainingLength(remaining), variableHeader, payload]);
}
