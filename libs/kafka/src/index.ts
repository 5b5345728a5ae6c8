export * from './kafka-bus.js';
export { installReadCommittedFix } from './read-committed.js';
export * from './from-config.js';
export { startLagMonitor } from './consumer-lag.js';
