import type { Database, Statement } from 'better-sqlite3';

/** What the SQLite repositories and indexes share: one connection and one way to run work on it. */
export interface SqliteContext {
  readonly db: Database;
  /** A prepared statement, compiled once per SQL text (each text is used with one result mode). */
  prepare(sql: string): Statement;
  /**
   * Runs synchronous database work, mapping what it throws to AppErrors (see toStoreError);
   * rejects with DB_UNAVAILABLE once the store is closed.
   */
  run<T>(action: string, work: () => T): T;
}
