import { constants } from 'node:fs';
import { open, realpath, stat } from 'node:fs/promises';
import { dirname, isAbsolute, relative, resolve, sep } from 'node:path';
import { AppError, ErrorCode, resolveFromRoot } from '@facewatch/core';
import type { ImageSourcePolicy } from './policy.js';

export interface PathImage {
  bytes: Uint8Array;
  /** The file actually read, every symbolic link resolved. */
  realPath: string;
}

/**
 * Reads a server path that lies inside one of `policy.pathRoots`, both as written (`..` resolved)
 * and after every symbolic link is resolved, so neither can escape a root. A relative path is
 * taken from the project root. Outside (or no roots configured): PATH_NOT_ALLOWED, checked before
 * anything else so clients cannot probe for files elsewhere; missing: IMAGE_NOT_FOUND; a folder or
 * other non-regular file: INVALID_ARGUMENT; more than `policy.maxBytes` (from stat, before
 * reading): IMAGE_TOO_LARGE.
 *
 * Limit: a symbolic link swapped in between the check and the open of a parent folder is not
 * caught (node has no openat2 RESOLVE_BENEATH); the last component is opened with O_NOFOLLOW and
 * the opened file must be the one checked.
 */
export async function readAllowedPath(path: string, policy: Pick<ImageSourcePolicy, 'pathRoots' | 'maxBytes'>): Promise<PathImage> {
  if (path.includes('\0')) throw new AppError(ErrorCode.INVALID_ARGUMENT, 'the path contains a NUL character');
  if (policy.pathRoots.length === 0) {
    throw new AppError(ErrorCode.PATH_NOT_ALLOWED, 'server paths are not accepted here (no IMAGE_PATH_ROOTS configured)', {
      details: { path },
    });
  }
  const requested = resolveFromRoot(path);
  const roots = await realRoots(policy.pathRoots);
  // lexical check first: `..` out of every root is refused without touching the file system
  if (!roots.some((r) => isInside(r.configured, requested) || (r.real !== undefined && isInside(r.real, requested)))) {
    throw notAllowed(path);
  }
  const realRootPaths = roots.flatMap((r) => (r.real === undefined ? [] : [r.real]));
  let real: string;
  try {
    real = await realpath(requested);
  } catch (err) {
    // a missing file behind a link that leaves the roots is still "not allowed", not "not found"
    if (!isInsideAny(realRootPaths, await nearestExistingRealPath(requested))) throw notAllowed(path);
    throw notFound(path, err);
  }
  if (!isInsideAny(realRootPaths, real)) throw notAllowed(path);

  const info = await stat(real).catch((err: unknown) => {
    throw notFound(path, err);
  });
  if (info.isDirectory()) throw new AppError(ErrorCode.INVALID_ARGUMENT, `${path} is a folder, not an image file`, { details: { path } });
  if (!info.isFile()) throw new AppError(ErrorCode.INVALID_ARGUMENT, `${path} is not a regular file`, { details: { path } });
  if (info.size > policy.maxBytes) throw tooLarge(path, info.size, policy.maxBytes);

  // O_NONBLOCK: a FIFO swapped in after the stat must not block the open
  const handle = await open(real, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK).catch((err: unknown) => {
    throw notFound(path, err);
  });
  try {
    const opened = await handle.stat();
    if (!opened.isFile() || opened.ino !== info.ino || opened.dev !== info.dev) {
      throw new AppError(ErrorCode.INVALID_ARGUMENT, `${path} changed while it was being read`, { details: { path } });
    }
    // read at most maxBytes + 1, so a file that grew after the stat is caught too
    let buffer = Buffer.allocUnsafeSlow(Math.min(opened.size, policy.maxBytes) + 1);
    let length = 0;
    for (;;) {
      if (length === buffer.length) {
        const grown = Buffer.allocUnsafeSlow(Math.min(buffer.length * 2, policy.maxBytes + 1));
        buffer.copy(grown, 0, 0, length);
        buffer = grown;
      }
      const { bytesRead } = await handle.read(buffer, length, buffer.length - length, null);
      if (bytesRead === 0) break;
      length += bytesRead;
      if (length > policy.maxBytes) throw tooLarge(path, length, policy.maxBytes);
    }
    return { bytes: new Uint8Array(buffer.buffer, buffer.byteOffset, length), realPath: real };
  } finally {
    await handle.close();
  }
}

interface Root {
  configured: string;
  /** undefined when the root does not exist (it then contains nothing). */
  real: string | undefined;
}

async function realRoots(roots: readonly string[]): Promise<Root[]> {
  return Promise.all(
    roots.map(async (root) => {
      const configured = resolveFromRoot(root);
      return { configured, real: await realpath(configured).catch(() => undefined) };
    }),
  );
}

async function nearestExistingRealPath(path: string): Promise<string | undefined> {
  for (let dir = dirname(path); ; dir = dirname(dir)) {
    const real = await realpath(dir).catch(() => undefined);
    if (real !== undefined) return real;
    if (dirname(dir) === dir) return undefined;
  }
}

/** True when `path` is `root` itself or below it (both absolute and normalised). */
export function isInside(root: string, path: string): boolean {
  const rel = relative(root, resolve(path));
  return rel === '' || (rel !== '..' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel));
}

function isInsideAny(roots: readonly string[], path: string | undefined): boolean {
  return path !== undefined && roots.some((root) => isInside(root, path));
}

function notAllowed(path: string): AppError {
  return new AppError(ErrorCode.PATH_NOT_ALLOWED, `${path} is outside the folders images may be read from`, { details: { path } });
}

function notFound(path: string, cause: unknown): AppError {
  return new AppError(ErrorCode.IMAGE_NOT_FOUND, `${path} does not exist or cannot be read`, { cause, details: { path } });
}

function tooLarge(path: string, bytes: number, maxBytes: number): AppError {
  return new AppError(ErrorCode.IMAGE_TOO_LARGE, `${path} has ${bytes} bytes, more than the limit of ${maxBytes}`, {
    details: { path, bytes, maxBytes },
  });
}
