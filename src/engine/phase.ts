export const PHASES = ['build', 'configure', 'runtime', 'cluster'] as const;
export type Phase = (typeof PHASES)[number];

export function isPhase(s: string): s is Phase {
  return (PHASES as readonly string[]).includes(s);
}
