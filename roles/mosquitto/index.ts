import { z } from 'zod';
import { pick } from '../../src/cluster/variables.js';
import { defineRole } from '../../src/engine/types.js';
import { packages } from '../../src/operations/package.js';

export default defineRole({
  name: 'mosquitto',
  description: 'Mosquitto broker and clients from Debian or EPEL, optionally pinned to a version.',
  vars: z.object({ ...pick('mosquitto_version') }),
  phases: {
    build: (ctx) => {
      const names = ['mosquitto', 'mosquitto-clients'];
      // EPEL ships the clients inside the mosquitto package.
      if (ctx.facts.os.family === 'redhat') names.pop();
      const version = ctx.vars.mosquitto_version;
      return [packages({ name: 'mosquitto', names, ...(version ? { versions: { mosquitto: version } } : {}) })];
    },
  },
});
