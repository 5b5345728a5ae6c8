/** Contract suites and test data for storage implementations (`@facewatch/db/testing`). */
export * from './vector-index-contract.js';
export * from './store-contract.js';
export * from './vectors.js';
