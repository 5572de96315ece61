/** Every error provision raises on purpose. `exitKind` decides the process exit code (see cli/exit-codes.ts). */
export type ExitKind = 'failed' | 'unreachable' | 'input' | 'options' | 'locked' | 'internal';

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

/**
 * sudo (become) refused to run provision's commands as root: the host answers, so it is a failed host (exit 2), not an
 * unreachable one.
 */
export class BecomeError extends ProvisionError {
  override readonly exitKind = 'failed';
  constructor(readonly host: string, message: string) {
    super(`[${host}] become (sudo) failed: ${message}`);
  }
}

/** Unknown or changed SSH host key: refused, with the fingerprint and how to accept it. */
export class HostKeyError extends UnreachableError {}

/** Another run holds the inventory's run lock (and --wait-lock, if given, ran out). */
export class RunLockedError extends ProvisionError {
  override readonly exitKind = 'locked';
  constructor(readonly lockFile: string, readonly holder: string, waitedSeconds?: number) {
    super(
      `${waitedSeconds === undefined ? 'another run holds' : `gave up after ${waitedSeconds} s waiting for`} the run lock ${lockFile}: ` +
        `held by ${holder}\n  wait for it with --wait-lock[=SECONDS]; remove the file only if that process is gone`,
    );
  }
}

/**
 * A failure on the controller that every host needing it shares (the exporter build, a package install): reported
 * once as the controller's, each host's step only points at it.
 */
export class ControllerError extends ProvisionError {
  override readonly exitKind = 'failed';
  constructor(readonly what: string, cause: unknown) {
    super(`controller: ${what} failed: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
  }
}

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
