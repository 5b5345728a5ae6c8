import type pg from 'pg';
import { AppError, ErrorCode } from '@facewatch/core';
import { toPgStoreError } from './pg-errors.js';

/** A client checked out for a transaction: plain queries that return rows. */
export interface PgTx {
  query<R>(sql: string, params?: readonly unknown[]): Promise<R[]>;
  /** The affected row count of an INSERT, UPDATE or DELETE. */
  execute(sql: string, params?: readonly unknown[]): Promise<number>;
}

/** What the PostgreSQL repositories and indexes share: one pool and one way to run work on it. */
export interface PgContext {
  /** One statement on any pooled connection (its own snapshot). */
  query<R>(action: string, sql: string, params?: readonly unknown[]): Promise<R[]>;
  /**
   * Runs `work` in one transaction on one connection: COMMIT when it resolves, ROLLBACK when it
   * throws. `snapshot` (REPEATABLE READ READ ONLY) gives several reads one consistent view.
   * Errors are mapped to AppErrors (see toPgStoreError); `mapError` may map a driver error first.
   */
  transaction<T>(action: string, work: (tx: PgTx) => Promise<T>, options?: { snapshot?: boolean; mapError?: (err: unknown) => AppError | undefined }): Promise<T>;
  /**
   * Runs `work` on one connection outside any transaction (statements that refuse to run inside
   * one, such as CREATE INDEX CONCURRENTLY, and session settings and locks that must outlive a
   * statement). `work` must undo what it set on the session before it ends; a connection left in
   * a failed state is closed rather than given back to the pool.
   */
  session<T>(action: string, work: (tx: PgTx) => Promise<T>): Promise<T>;
}

/** Builds the context over `pool`; `isClosed` makes every call reject with DB_UNAVAILABLE (not retryable). */
export function pgContext(pool: pg.Pool, isClosed: () => boolean): PgContext {
  const checkOpen = (action: string): void => {
    if (isClosed()) throw new AppError(ErrorCode.DB_UNAVAILABLE, `the PostgreSQL store is closed (${action})`, { retryable: false });
  };
  /** A connection from the pool for one unit of work (the caller releases it). */
  const checkout = async (action: string): Promise<pg.PoolClient> => {
    checkOpen(action);
    try {
      return await pool.connect();
    } catch (err) {
      throw toPgStoreError(err, action);
    }
  };
  return {
    async query<R>(action: string, sql: string, params: readonly unknown[] = []): Promise<R[]> {
      checkOpen(action);
      try {
        return (await pool.query(sql, params as unknown[])).rows as R[];
      } catch (err) {
        throw toPgStoreError(err, action);
      }
    },

    async session<T>(action: string, work: (tx: PgTx) => Promise<T>): Promise<T> {
      const client = await checkout(action);
      let broken: Error | undefined;
      try {
        return await work(statementsOn(client));
      } catch (err) {
        // whatever the session held (settings, locks) goes with the connection
        broken = err instanceof Error ? err : new Error(String(err));
        throw err instanceof AppError ? err : toPgStoreError(err, action);
      } finally {
        client.release(broken);
      }
    },

    async transaction<T>(action: string, work: (tx: PgTx) => Promise<T>, options: { snapshot?: boolean; mapError?: (err: unknown) => AppError | undefined } = {}): Promise<T> {
      const client = await checkout(action);
      let broken: Error | undefined;
      try {
        await client.query(options.snapshot === true ? 'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY' : 'BEGIN');
        const result = await work(statementsOn(client));
        await client.query('COMMIT');
        return result;
      } catch (err) {
        try {
          await client.query('ROLLBACK');
        } catch (rollbackErr) {
          // the connection is gone or unusable: do not give it back to the pool
          broken = rollbackErr instanceof Error ? rollbackErr : new Error(String(rollbackErr));
        }
        throw options.mapError?.(err) ?? toPgStoreError(err, action);
      } finally {
        client.release(broken);
      }
    },
  };
}

/** Plain statements on one checked-out connection. */
function statementsOn(client: pg.PoolClient): PgTx {
  return {
    query: async <R>(sql: string, params: readonly unknown[] = []) => (await client.query(sql, params as unknown[])).rows as R[],
    execute: async (sql, params = []) => (await client.query(sql, params as unknown[])).rowCount ?? 0,
  };
}
