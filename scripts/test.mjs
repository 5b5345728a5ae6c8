#!/usr/bin/env node
// Runs the test tiers with node's test runner on the compiled output (`npm test` builds first).
//   small:  <package>/dist/**/*.test.js   (next to the code, no I/O)
//   medium: <package>/dist-test/**/*.test.js (real models, files, SQLite, HTTP, a real browser)
//           <package>/dist-test-kafka, dist-test-pg: against a real Kafka broker, schema registry
//           and PostgreSQL + pgvector; <package>/dist-test-s3: against a real S3 server (moto);
//           <package>/dist-test-kafka-s3: against both.
//           Unless KAFKA_BROKERS, DATABASE_URL and SCHEMA_REGISTRY_URL (kafka/pg tiers), and
//           S3_ENDPOINT (s3 tier), are already set, the services a selected tier needs are started
//           with one `scripts/services.sh up <names>` before the tests, and the ones this run started
//           are stopped after (servers that were already running stay up). If they cannot start,
//           the run fails (it never skips).
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
  readdirSync(join(root, group))
    .map((name) => join(root, group, name))
    .filter((dir) => statSync(dir).isDirectory()),
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

// Which services each service tier needs, and the settings that point it at running ones (when
// all of a group's settings are set, that group is not started).
const serviceGroups = [
  {
    dirs: ['dist-test-kafka', 'dist-test-pg', 'dist-test-kafka-s3'],
    services: ['kafka', 'postgres', 'registry'],
    vars: ['KAFKA_BROKERS', 'DATABASE_URL', 'SCHEMA_REGISTRY_URL'],
    label: 'Kafka, PostgreSQL + pgvector and the schema registry',
  },
  { dirs: ['dist-test-s3', 'dist-test-kafka-s3'], services: ['s3'], vars: ['S3_ENDPOINT'], label: "moto's S3" },
];
const serviceDirs = [...new Set(serviceGroups.flatMap((g) => g.dirs))];
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
// the AWS SDK tells Node 20 users once per process that its 2027 releases need Node 22 (README);
// in test output it is noise
env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const services = join(root, 'scripts/services.sh');
const selected = (dir) => files.some((f) => f.includes(`/${dir}/`));
const groups = serviceGroups.filter((g) => g.dirs.some(selected) && !g.vars.every((v) => env[v]));
const wanted = groups.flatMap((g) => g.services);
/** Services this run started (and so stops): not the ones that were running before. */
let ours = [];
if (wanted.length > 0) {
  const status = spawnSync('bash', [services, 'status', ...wanted], { cwd: root, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  const running = new Set(
    (status.stdout ?? '').split('\n').flatMap((line) => {
      const [name, state] = line.trim().split(/\s+/);
      return name && state && state !== 'stopped' ? [name] : [];
    }),
  );
  ours = wanted.filter((svc) => !running.has(svc));
  console.log(`starting ${groups.map((g) => g.label).join(' and ')} (scripts/services.sh up ${wanted.join(' ')})…`);
  const up = spawnSync('bash', [services, 'up', ...wanted], { cwd: root, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  if (up.status !== 0) {
    console.error(`the services the tests need did not start (scripts/services.sh up ${wanted.join(' ')} exited ${up.status}); not running the tests`);
    if (ours.length > 0) spawnSync('bash', [services, 'down', ...ours], { cwd: root, env, stdio: 'inherit' });
    process.exit(1);
  }
  // `up` prints the settings of every service that runs; take those of the groups started here.
  const vars = new Set(groups.flatMap((g) => g.vars));
  for (const line of up.stdout.split('\n')) {
    const m = /^([A-Z][A-Z0-9_]*)=(.*)$/.exec(line.trim()); // S3_ENDPOINT has a digit
    if (m && vars.has(m[1])) env[m[1]] = m[2];
  }
  const missing = [...vars].filter((v) => !env[v]);
  if (missing.length > 0) {
    console.error(`scripts/services.sh up ${wanted.join(' ')} did not print ${missing.join(', ')}; not running the tests`);
    if (ours.length > 0) spawnSync('bash', [services, 'down', ...ours], { cwd: root, env, stdio: 'inherit' });
    process.exit(1);
  }
}

// quiet: the test runner's summary must stay the last lines of the output
const stop = () => {
  if (ours.length > 0) spawnSync('bash', [services, 'down', ...ours], { cwd: root, env, stdio: 'ignore' });
};
// --test-force-exit: a file whose tests are done ends even if a client library left a socket open
// (kafkajs can keep a connection after its broker restarted), instead of hanging the run
const child = spawn(process.execPath, ['--test', '--test-force-exit', '--test-reporter=spec', ...extra, ...files], { cwd: root, env, stdio: 'inherit' });
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal));
child.on('exit', (code, signal) => {
  stop();
  process.exit(code ?? (signal ? 1 : 0));
});
