export * from './types.js';
export * from './schema.js';
export * from './fingerprint.js';
export * from './state.js';
export * from './plan.js';
export * from './apply.js';
