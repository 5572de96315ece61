import { OptionsError } from '../errors.js';
import { Secret, registerSecretValue } from '../secrets.js';

/**
 * -K/--ask-become-pass: the password typed on the terminal without echo (as ansible-playbook's "BECOME password:"),
 * or the first line of stdin when it is not a terminal (CI, `echo pw | provision -K`). Registered for masking.
 */
export async function askSecret(prompt: string, input: NodeJS.ReadStream = process.stdin, output: NodeJS.WriteStream = process.stderr): Promise<Secret> {
  const text = input.isTTY ? await fromTerminal(prompt, input, output) : await firstLine(input);
  if (!text) throw new OptionsError('-K/--ask-become-pass: no password given');
  registerSecretValue(text);
  return new Secret(text, 'become password (-K)');
}

function fromTerminal(prompt: string, input: NodeJS.ReadStream, output: NodeJS.WriteStream): Promise<string> {
  output.write(prompt);
  input.setRawMode(true);
  input.resume();
  return new Promise((resolve, reject) => {
    let typed = '';
    const done = (err?: Error) => {
      input.setRawMode(false);
      input.pause();
      input.off('data', onData);
      output.write('\n');
      if (err) reject(err);
      else resolve(typed);
    };
    const onData = (chunk: Buffer) => {
      for (const ch of chunk.toString('utf8')) {
        if (ch === '\r' || ch === '\n') return done();
        if (ch === '\u0003') return done(new OptionsError('-K/--ask-become-pass: interrupted'));
        if (ch === '\u007f' || ch === '\b') typed = typed.slice(0, -1);
        else typed += ch;
      }
    };
    input.on('data', onData);
  });
}

function firstLine(input: NodeJS.ReadableStream): Promise<string> {
  return new Promise((resolve, reject) => {
    let buf = '';
    const onData = (chunk: Buffer | string) => {
      buf += chunk.toString();
      const i = buf.indexOf('\n');
      if (i >= 0) finish(buf.slice(0, i));
    };
    const finish = (line: string) => {
      input.off('data', onData);
      input.off('end', onEnd);
      input.pause();
      resolve(line.replace(/\r$/, ''));
    };
    const onEnd = () => finish(buf);
    input.on('data', onData);
    input.once('end', onEnd);
    input.once('error', reject);
    input.resume();
  });
}
