/** One word of a shell-like line and the 0-based index where it started. */
export interface Word {
  text: string;
  start: number;
}

/**
 * Python's `shlex.split(line, comments=True)` (POSIX mode), as Ansible uses for INI host lines:
 * whitespace separates words, '…' is literal, "…" honours \" and \\, a backslash escapes one character,
 * and '#' outside quotes ends the line. Throws Error("No closing quotation") like Python.
 */
export function shlexSplit(line: string): Word[] {
  const words: Word[] = [];
  let text = '';
  let start = -1;
  let i = 0;
  const begin = () => {
    if (start < 0) start = i;
  };
  const flush = () => {
    if (start >= 0) words.push({ text, start });
    text = '';
    start = -1;
  };
  while (i < line.length) {
    const c = line[i];
    if (c === ' ' || c === '\t' || c === '\r' || c === '\n') {
      flush();
      i++;
    } else if (c === '#') {
      break;
    } else if (c === "'") {
      begin();
      const end = line.indexOf("'", i + 1);
      if (end < 0) throw new Error('No closing quotation');
      text += line.slice(i + 1, end);
      i = end + 1;
    } else if (c === '"') {
      begin();
      i++;
      for (;;) {
        if (i >= line.length) throw new Error('No closing quotation');
        const d = line[i];
        if (d === '"') break;
        if (d === '\\' && (line[i + 1] === '"' || line[i + 1] === '\\')) {
          text += line[i + 1];
          i += 2;
        } else {
          text += d;
          i++;
        }
      }
      i++;
    } else if (c === '\\') {
      begin();
      if (i + 1 >= line.length) throw new Error('No escaped character');
      text += line[i + 1];
      i += 2;
    } else {
      begin();
      text += c;
      i++;
    }
  }
  flush();
  return words;
}
