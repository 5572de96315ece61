import { describeControlChar, fitsMqttString, hasControlChars } from '../inventory/schema.js';

/** A lone UTF-16 surrogate has no UTF-8 form: the broker refuses such a topic as invalid UTF-8. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * Why `topic` is not a valid MQTT topic filter (MQTT 3.1.1 §4.7, as Mosquitto's mosquitto_sub_topic_check):
 * non-empty, ≤ 65535 bytes of UTF-8, `#` only alone in the last level, `+` only alone in a level, no NUL —
 * and here no control character at all (the ACL file is line-oriented). Undefined when valid.
 *
 * Every dynamic-security ACL type takes a filter (publishClientSend/Receive match the published topic against it,
 * subscribe/unsubscribeLiteral compare the subscription with it, …Pattern match it): the plugin checks each with
 * mosquitto_sub_topic_check ("Invalid ACL topic"), and the acl_file's `topic` lines are filters too.
 */
export function topicFilterProblem(topic: string): string | undefined {
  if (topic.length === 0) return 'an empty topic';
  if (hasControlChars(topic)) return `a control character (${describeControlChar(topic)})`;
  if (LONE_SURROGATE.test(topic)) return 'text that is not valid UTF-8 (a lone surrogate)';
  if (!fitsMqttString(topic)) return `${Buffer.byteLength(topic, 'utf8')} bytes of UTF-8 (at most 65535)`;
  const levels = topic.split('/');
  for (let i = 0; i < levels.length; i++) {
    const level = levels[i]!;
    if (level.includes('#') && (level !== '#' || i !== levels.length - 1)) return `'#' in level ${i + 1} ("${level}"): '#' must be the whole last level`;
    if (level.includes('+') && level !== '+') return `'+' in level ${i + 1} ("${level}"): '+' must be a whole level`;
  }
  return undefined;
}
