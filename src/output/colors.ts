const enabled = process.stdout.isTTY && !process.env.NO_COLOR;
const wrap = (code: number) => (s: string) => (enabled ? `\x1b[${code}m${s}\x1b[0m` : s);
export const c = { green: wrap(32), yellow: wrap(33), red: wrap(31), cyan: wrap(36), gray: wrap(90), bold: wrap(1), magenta: wrap(35) };
