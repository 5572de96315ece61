import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { z } from 'zod';
import { defineRole, type Step } from '../../src/engine/types.js';
import { StepError } from '../../src/errors.js';
import { unifiedDiff } from '../../src/operations/diff.js';
import { pick } from '../../src/cluster/variables.js';
import { renderScrapeConfig, scrapeConfigPath, scrapeTargets } from './scrape-config.js';

const vars = z.object({
  ...pick('prometheus_scrape_config_dir'),
  // Read per target host from the inventory (see src/cluster/endpoints.ts); declared here so they are validated and documented.
  ...pick('exporter_port', 'exporter_bind_address', 'haproxy_metrics_port'),
});

export const SCRAPE_STEP_NAME = 'Prometheus scrape config (controller)';

async function readIfExists(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new StepError(`cannot read ${path}: ${(err as Error).message}`);
  }
}

/** Temp file beside the target, then rename: Prometheus (or a reader) never sees a half-written file. */
async function writeAtomically(path: string, content: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = join(dirname(path), `.${basename(path)}.provision-${randomBytes(6).toString('hex')}`);
  try {
    await writeFile(tmp, content, { mode: 0o644 });
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

/**
 * The controller-side scrape config: rendered from the inventory and this run's facts, compared with the file on
 * the controller, written only when it differs. Check mode reports the change with its diff and writes nothing.
 */
export function scrapeConfigStep(dir: string | undefined): Step {
  return {
    name: SCRAPE_STEP_NAME,
    runOnce: true,
    plan: async (ctx) => {
      const path = scrapeConfigPath(ctx, dir);
      const targets = scrapeTargets(ctx);
      const content = renderScrapeConfig(targets);
      const before = await readIfExists(path);
      const counts = `${targets.mosquitto.length} broker(s), ${targets.haproxy.length} load balancer(s)`;
      if (before === content) return { changes: [], message: `${path}: ${counts}` };
      return {
        changes: [
          {
            summary: `${before === undefined ? 'create' : 'update'} ${path} on the controller (${counts})`,
            diff: unifiedDiff(before ?? '', content, path),
            apply: async (hc) => {
              if (hc.check) return;
              await writeAtomically(path, content);
              return `wrote ${path}`;
            },
          },
        ],
      };
    },
  };
}

/**
 * Observability outputs kept beside the inventory (like pki/): a Prometheus scrape config for the brokers' exporters
 * and the load balancers' /metrics. The Grafana dashboard that reads these jobs is docs/grafana/provision-dashboard.json.
 */
export default defineRole({
  name: 'observability',
  description: 'Writes <inventory dir>/prometheus/provision.yml on the controller: Prometheus jobs for every active broker exporter and load balancer.',
  vars,
  phases: {
    cluster: (ctx) => [scrapeConfigStep(ctx.vars.prometheus_scrape_config_dir)],
  },
  // A broker being removed may be the first host of the play: the run-once step runs there too (same key, still once).
  absent: {
    cluster: (ctx) => [scrapeConfigStep(ctx.vars.prometheus_scrape_config_dir)],
  },
});
