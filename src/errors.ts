/** Every error provision raises on purpose. `exitKind` decides the process exit code (see cli/exit-codes.ts). */
export type ExitKind = 'failed' | 'unreachable' | 'input' | 'options' | 'internal';

export class ProvisionError extends Error {
  readonly exitKind: ExitKind = 'internal';
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A remote or local command that exited with an unexpected code: carries what a user needs to act. */
export class CommandError extends ProvisionError {
  override readonly exitKind = 'failed';
  constructor(
    readonly command: string,
    readonly exitCode: number | null,
    readonly stderr: string,
    readonly stdout = '',
    readonly host?: string,
  ) {
    const tail = (stderr.trim() || stdout.trim()).split('\n').slice(-8).join('\n');
    super(`${host ? `[${host}] ` : ''}command failed (exit ${exitCode ?? 'signal'}): ${firstLine(command)}${tail ? `\n${tail}` : ''}`);
  }
}

/** Bad inventory, playbook or variables: always names the file, and the line, column and variable path when known. */
export class InputError extends ProvisionError {
  override readonly exitKind = 'input';
  constructor(
    readonly problem: string,
    readonly file?: string,
    readonly line?: number,
    readonly column?: number,
    readonly path?: string,
  ) {
    super(formatLocation(file, line, column, path) + problem);
  }
}

export class OptionsError extends ProvisionError {
  override readonly exitKind = 'options';
}

export class UnreachableError extends ProvisionError {
  override readonly exitKind = 'unreachable';
  constructor(readonly host: string, message: string, options?: ErrorOptions) {
    super(`[${host}] unreachable: ${message}`, options);
  }
}

/** Unknown or changed SSH host key: refused, with the fingerprint and how to accept it. */
export class HostKeyError extends UnreachableError {}

/** A step failed on a host for a reason that is not a command exit code (health check, validation, …). */
export class StepError extends ProvisionError {
  override readonly exitKind = 'failed';
}

function firstLine(s: string): string {
  const line = s.trim().split('\n')[0] ?? '';
  return line.length > 160 ? `${line.slice(0, 157)}...` : line;
}

function formatLocation(file?: string, line?: number, column?: number, path?: string): string {
  if (!file && !path) return '';
  let loc = file ?? '';
  if (file && line) loc += `:${line}${column ? `:${column}` : ''}`;
  if (path) loc += `${loc ? ' ' : ''}${path}`;
  return `${loc}: `;
}
