export * from './types.js';
export * from './ha-client.js';
export * from './membership.js';
export * from './reconcile.js';
