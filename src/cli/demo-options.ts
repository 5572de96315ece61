import { demoOptions, type DemoOptions } from '../commands/options.js';

/** `provision demo [down] [--upstream-exporter]`. */
export function parseDemoOptions(args: string[]): DemoOptions {
  return demoOptions({ down: args[0] === 'down', upstreamExporter: args.includes('--upstream-exporter') });
}
