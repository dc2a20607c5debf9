export * from './api.js';
export * from './descriptor.js';
export * from './fields.js';
export * from './issues.js';
export * from './source.js';
export * from './stdin.js';
export * from './session-result.js';
export * from './queries.js';
