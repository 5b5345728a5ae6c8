import { AppError, ErrorCode } from '@facewatch/core';

/** The squared length of a usable vector: right dimension, finite values, not all zero. */
export function checkedSquaredNorm(vector: unknown, dimensions: number, model: string, what: string): number {
  if (!(vector instanceof Float32Array)) {
    throw new AppError(ErrorCode.INVALID_ARGUMENT, `${what} must be a Float32Array`, { details: { model } });
  }
  if (vector.length !== dimensions) {
    throw new AppError(ErrorCode.INVALID_ARGUMENT, `${what} has ${vector.length} dimensions, the ${model} index has ${dimensions}`, {
      details: { model, expected: dimensions, actual: vector.length },
    });
  }
  let sum = 0;
  for (let i = 0; i < vector.length; i++) sum += vector[i]! * vector[i]!;
  if (!Number.isFinite(sum) || sum === 0) {
    throw new AppError(ErrorCode.INVALID_ARGUMENT, `${what} must be finite and non-zero (a cosine distance needs a direction)`, { details: { model } });
  }
  return sum;
}

export function checkId(id: unknown, model: string): asserts id is string {
  if (typeof id !== 'string' || id === '') throw new AppError(ErrorCode.INVALID_ARGUMENT, 'a vector id must be a non-empty string', { details: { model } });
}

export function checkSearch(k: unknown, maxDistance: unknown, model: string): void {
  if (typeof k !== 'number' || !Number.isInteger(k) || k < 1) {
    throw new AppError(ErrorCode.INVALID_ARGUMENT, `k must be a positive integer, got ${String(k)}`, { details: { model } });
  }
  if (maxDistance !== undefined && (typeof maxDistance !== 'number' || Number.isNaN(maxDistance))) {
    throw new AppError(ErrorCode.INVALID_ARGUMENT, `maxDistance must be a number, got ${String(maxDistance)}`, { details: { model } });
  }
}

export function checkDimensions(dimensions: unknown, model: string): void {
  if (typeof model !== 'string' || model === '') throw new AppError(ErrorCode.INVALID_ARGUMENT, 'a vector index needs a model name');
  if (typeof dimensions !== 'number' || !Number.isInteger(dimensions) || dimensions < 1) {
    throw new AppError(ErrorCode.INVALID_ARGUMENT, `dimensions must be a positive integer, got ${String(dimensions)}`, { details: { model } });
  }
}
