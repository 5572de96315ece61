/** `state: absent` on a host: it is being taken out of service, and roles run their removal steps instead. */
export function isAbsent(host: { vars: Record<string, unknown> }): boolean {
  return host.vars.state === 'absent';
}
