import { AppError, ErrorCode } from '@facewatch/core';

/** offset/limit as SQL parameters: offset defaults to 0, no limit means every row (-1 in SQLite). */
export function paging(options: { offset?: number; limit?: number }): { offset: number; limit: number } {
  const { offset = 0, limit } = options;
  if (!Number.isInteger(offset) || offset < 0) throw new AppError(ErrorCode.INVALID_ARGUMENT, `offset must be a non-negative integer, got ${String(offset)}`);
  if (limit !== undefined && (!Number.isInteger(limit) || limit < 0)) {
    throw new AppError(ErrorCode.INVALID_ARGUMENT, `limit must be a non-negative integer, got ${String(limit)}`);
  }
  return { offset, limit: limit ?? -1 };
}
