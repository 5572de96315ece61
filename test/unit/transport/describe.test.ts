/** A failing script is named by what it does, not by the wrapper every script runs in (`sh -c 'eval "$(cat)"'`). */
import { describe, expect, it } from 'vitest';
import { describeScript } from '../../../src/transport/describe.js';

describe('describeScript', () => {
  it('names the first line that does something', () => {
    expect(describeScript('export LC_ALL=C\nset -eu\n# refresh\napt-get update -q\napt-get install -y jq\n')).toBe('script: apt-get update -q');
    expect(describeScript('\n\n')).toBe('script: (empty)');
  });
});
