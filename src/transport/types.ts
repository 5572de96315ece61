import type { Duplex } from 'node:stream';

export interface ExecOptions {
  /** Bytes written to the command's stdin (secrets travel here, never on a command line). */
  input?: string | Buffer;
  /** Run through sudo when the host's connection asks for become (default true). */
  become?: boolean;
  timeoutMs?: number;
  /** Called with chunks of combined output as they arrive (long steps show progress). */
  onOutput?: (chunk: string) => void;
}

export interface ExecResult {
  stdout: string;
  stderr: string;
  code: number;
}

/** A live connection to one host. Every `exec`/`script`/`forward` is one round trip and is counted. */
export interface Transport {
  readonly host: string;
  /** Run a command line. It must not contain secrets (checked). Never throws on non-zero exit. */
  exec(command: string, opts?: ExecOptions): Promise<ExecResult>;
  /** Run a POSIX sh script sent over stdin (may contain secrets; nothing lands on disk or in a process list). */
  script(script: string, opts?: Omit<ExecOptions, 'input'>): Promise<ExecResult>;
  /** A TCP stream to host:port as seen from the remote host (SSH direct-tcpip). */
  forward(host: string, port: number): Promise<Duplex>;
  /** The SSH port this run uses on the host (the firewall must keep it open). */
  readonly sshPort: number;
  readonly roundTrips: number;
  close(): Promise<void>;
}
