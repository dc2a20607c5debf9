/** The Turku domain, pure: grammars, schedules, retention, protocol shapes, config merging. */
export * from './config.js';
export * from './cron.js';
export * from './frequency.js';
export * from './hash.js';
export * from './names.js';
export * from './protocol/index.js';
export * from './retention.js';
export * from './schedule.js';
export * from './time.js';
export * from './uuid.js';
export * from './filter-sets.js';
export * from './weighted-choice.js';
