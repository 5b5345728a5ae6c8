#!/usr/bin/env node
// Runs the test tiers with node's test runner on the compiled output (`npm test` builds first).
//   small:  <package>/dist/**/*.test.js   (next to the code, no I/O)
//   medium: <package>/dist-test/**/*.test.js (real models, files, databases)
// Usage: node scripts/test.mjs [small|medium|all] [extra node --test flags]
// Tests read ../shared/fixtures; unless MODELS_MIRROR is set, the model fetcher is pointed at
// ../shared/models when that folder exists, so a fresh clone needs no download.
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(fileURLToPath(import.meta.url), '../..');
const [tier = 'all', ...extra] = process.argv.slice(2);
const packages = ['libs', 'services'].flatMap((group) =>
  readdirSync(join(root, group)).map((name) => join(root, group, name)).filter((dir) => statSync(dir).isDirectory()),
);

function find(dir, out = []) {
  if (!existsSync(dir)) return out;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) find(path, out);
    else if (entry.name.endsWith('.test.js')) out.push(path);
  }
  return out;
}

const dirs = { small: ['dist'], medium: ['dist-test'], all: ['dist', 'dist-test'] }[tier];
if (!dirs) {
  console.error(`unknown tier "${tier}" (small, medium, all)`);
  process.exit(2);
}
const files = packages.flatMap((pkg) => dirs.flatMap((d) => find(join(pkg, d)))).sort();
if (files.length === 0) {
  console.error('no test files found: run `npm run build` first');
  process.exit(1);
}

const env = { ...process.env };
const mirror = resolve(root, '../shared/models');
if (!env.MODELS_MIRROR && existsSync(mirror)) env.MODELS_MIRROR = mirror;
env.LOG_LEVEL ??= 'warn';

const child = spawn(process.execPath, ['--test', '--test-reporter=spec', ...extra, ...files], { cwd: root, env, stdio: 'inherit' });
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
