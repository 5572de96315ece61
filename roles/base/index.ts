import { z } from 'zod';
import { pick } from '../../src/cluster/variables.js';
import { defineRole } from '../../src/engine/types.js';
import { packageListsRefreshed, packages, systemUpgraded } from '../../src/operations/package.js';

const DEBIAN_TOOLS = ['ca-certificates', 'openssl', 'iproute2', 'procps'];
const ROCKY_TOOLS = ['ca-certificates', 'openssl', 'iproute', 'procps-ng', 'policycoreutils-python-utils'];

export default defineRole({
  name: 'base',
  description: 'Package lists refreshed when stale, base tools, EPEL on Rocky; a full upgrade only when asked.',
  vars: z.object({ ...pick('base_packages', 'base_upgrade', 'package_cache_valid_seconds') }),
  phases: {
    build: (ctx) => {
      const rocky = ctx.facts.os.family === 'redhat';
      const steps = [
        packageListsRefreshed({ maxAgeSeconds: ctx.vars.package_cache_valid_seconds }),
        packages({ name: 'base tools', names: [...(rocky ? ROCKY_TOOLS : DEBIAN_TOOLS), ...ctx.vars.base_packages], cacheValidSeconds: ctx.vars.package_cache_valid_seconds }),
      ];
      if (rocky) steps.splice(1, 0, packages({ name: 'EPEL repository', names: ['epel-release'] }));
      if (ctx.vars.base_upgrade) steps.push(systemUpgraded());
      return steps;
    },
  },
});
