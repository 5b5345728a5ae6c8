import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

let cachedRoot: string | undefined;

/**
 * The checkout's root: the nearest folder above this package that holds the workspace
 * package.json. Default locations (models/, blacklist_db/) are resolved against it so commands
 * behave the same from any working directory.
 */
export function projectRoot(): string {
  if (cachedRoot !== undefined) return cachedRoot;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, 'package.json');
    if (existsSync(candidate)) {
      try {
        const pkg = JSON.parse(readFileSync(candidate, 'utf8')) as { workspaces?: unknown };
        if (Array.isArray(pkg.workspaces)) return (cachedRoot = dir);
      } catch {
        // an unreadable package.json is not the root; keep walking
      }
    }
    const parent = dirname(dir);
    if (parent === dir) return (cachedRoot = process.cwd());
    dir = parent;
  }
}

/** Resolves a configured path: absolute stays, relative is taken from the project root. */
export function resolveFromRoot(path: string): string {
  return resolve(projectRoot(), path);
}
