#!/usr/bin/env node
import { main } from '../dist/src/cli/main.js';

// Exit explicitly: a lingering socket (an MQTT client, an SSH keepalive) must never keep the CLI alive.
process.exit(await main(process.argv.slice(2)));
