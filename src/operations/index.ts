export { command, type CommandOptions } from './command.js';
export { unifiedDiff } from './diff.js';
export { absent, copy, directory, file, template, type FileOptions } from './file.js';
export { firewall, type AllowRule, type FirewallBackend, type FirewallOptions } from './firewall.js';
export { packageListsRefreshed, packages, systemUpgraded, type PackagesOptions } from './package.js';
export { selinuxPort } from './selinux.js';
export { service, systemdUnit, type ServiceState } from './service.js';
export { group, user, type UserOptions } from './user.js';
