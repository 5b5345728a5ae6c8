export * from './types.js';
export { alertForFace, alertIdFor } from './alert-records.js';
export { openSqliteStore, type SqliteStoreOptions } from './sqlite/open-sqlite-store.js';
export { openConfiguredPostgresStore, openPostgresStore, type PostgresStoreOptions } from './postgres/open-postgres-store.js';
