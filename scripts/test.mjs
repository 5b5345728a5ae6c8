#!/usr/bin/env node
// Runs the test tiers with node's test runner on the compiled output (`npm test` builds first).
//   small:  <package>/dist/**/*.test.js   (next to the code, no I/O)
//   medium: <package>/dist-test/**/*.test.js (real models, files, SQLite, HTTP, a real browser)
//           <package>/dist-test-kafka, dist-test-pg: against a real Kafka broker, schema registry
//           and PostgreSQL + pgvector. Unless KAFKA_BROKERS and DATABASE_URL are already set, they
//           are started with scripts/services.sh before the tests and stopped after; if they cannot
//           start, the run fails (it never skips).
// Usage: node scripts/test.mjs [small|medium|all] [extra node --test flags]
// Tests read ../shared/fixtures; unless MODELS_MIRROR is set, the model fetcher is pointed at
// ../shared/models when that folder exists, so a fresh clone needs no download.
import { spawn, spawnSync } from 'node:child_process';
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

const serviceDirs = ['dist-test-kafka', 'dist-test-pg'];
const dirs = { small: ['dist'], medium: ['dist-test', ...serviceDirs], all: ['dist', 'dist-test', ...serviceDirs] }[tier];
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

const needsServices = files.some((f) => serviceDirs.some((d) => f.includes(`/${d}/`)));
let startedServices = false;
if (needsServices && !(env.KAFKA_BROKERS && env.DATABASE_URL && env.SCHEMA_REGISTRY_URL)) {
  console.log('starting Kafka, PostgreSQL + pgvector and the schema registry (scripts/services.sh up)…');
  const up = spawnSync('bash', [join(root, 'scripts/services.sh'), 'up'], { cwd: root, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  if (up.status !== 0) {
    console.error(`the services the tests need did not start (scripts/services.sh up exited ${up.status}); not running the tests`);
    spawnSync('bash', [join(root, 'scripts/services.sh'), 'down'], { cwd: root, env, stdio: 'inherit' });
    process.exit(1);
  }
  startedServices = true;
  for (const line of up.stdout.split('\n')) {
    const m = /^([A-Z_]+)=(.*)$/.exec(line.trim());
    if (m) env[m[1]] = m[2];
  }
}

// quiet: the test runner's summary must stay the last lines of the output
const stop = () => {
  if (startedServices) spawnSync('bash', [join(root, 'scripts/services.sh'), 'down'], { cwd: root, env, stdio: 'ignore' });
};
const child = spawn(process.execPath, ['--test', '--test-reporter=spec', ...extra, ...files], { cwd: root, env, stdio: 'inherit' });
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal));
child.on('exit', (code, signal) => {
  stop();
  process.exit(code ?? (signal ? 1 : 0));
});
