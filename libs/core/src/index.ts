export * from './errors.js';
export * from './config.js';
export * from './logger.js';
export * from './shutdown.js';
export * from './paths.js';
export * from './events.js';
export * from './in-process-bus.js';
