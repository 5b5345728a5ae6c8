import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { projectRoot } from '@facewatch/core';
import { startEmbeddedProcess, type RunningProfile } from './launch.js';
import { runSchemathesis, schemathesisPython, type SchemathesisReport } from './schemathesis.js';

// Property-based testing of the whole HTTP API from its published OpenAPI document: schemathesis
// (PyPI, installed once into a cached venv) generates requests from /openapi.json of the running
// `npm start` process and checks every answer against the document: no 5xx, every status and body
// as documented, invalid requests refused, valid ones accepted, unknown methods 405 with Allow,
// keys required. A fixed seed and a bounded number of examples keep the run the same every time.

/** Failures of an answer against the document (as opposed to the request side: auth, acceptance, methods). */
const responseBreaks = new Set([
  'UndefinedStatusCode',
  'MissingHeaders',
  'JsonSchemaError',
  'MissingContentType',
  'MalformedMediaType',
  'ContentDeserializationError',
  'DiscriminatorMismatch',
  'UndefinedContentType',
  'MalformedJson',
]);
const seed = 20260613;
// FACEWATCH_SCHEMATHESIS_EXAMPLES: a deeper run by hand (schemathesis' own default is 100)
const maxExamples = Number(process.env['FACEWATCH_SCHEMATHESIS_EXAMPLES'] ?? 25);
const adminKey = 'schemathesis-admin-key-0123456789';
let app: RunningProfile;
let work: string;

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'facewatch-schemathesis-'));
  // the rate limit is tested on its own (security.e2e.test.ts): here it would only turn cases into 429s
  app = await startEmbeddedProcess({ API_KEY: adminKey, API_KEYS: 'reader:read:schemathesis-reader-key-0123', RATE_LIMIT_PER_MINUTE: '0', LOG_LEVEL: 'warn' });
});

after(async () => {
  await app?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

test(`schemathesis: every generated request answered as the OpenAPI document says (seed ${seed}, ${maxExamples} examples per operation)`, { timeout: 30 * 60_000 }, async () => {
  const python = await schemathesisPython();
  const reportPath = join(work, 'report.json');
  const { code, output } = await runSchemathesis(
    python,
    [
      '--config-file',
      join(projectRoot(), 'services/embedded/test/schemathesis.toml'),
      'run',
      `${app.baseUrl}/openapi.json`,
      '--checks',
      'all',
      '--seed',
      String(seed),
      '--max-examples',
      String(maxExamples),
      '--workers',
      '1',
      '--request-timeout',
      '60',
      '-H',
      `X-API-Key: ${adminKey}`,
      // an endless event stream is not a request with an answer to check (the API suite tests it)
      '--exclude-path',
      '/api/v1/alerts/stream',
      // an NDJSON archive streamed as the body: schemathesis has no serialiser for it (the admin suites import real archives)
      '--exclude-path',
      '/api/v1/admin/import',
      '--no-color',
      '--report',
      'json',
      '--report-json-path',
      reportPath,
    ],
    25 * 60_000,
  );
  const report = JSON.parse(readFileSync(reportPath, 'utf8')) as SchemathesisReport;
  const failures = report.failures.map((f) => `${f.code} ${f.title}: ${f.count} (${f.operations.join(', ')})`);
  const serverErrors = report.failures.filter((f) => f.type === 'ServerError').reduce((n, f) => n + f.count, 0);
  const schemaBreaks = report.failures.filter((f) => responseBreaks.has(f.type)).reduce((n, f) => n + f.count, 0);
  const logged = app
    .output()
    .split('\n')
    .filter((line) => line.includes('"level":50'));
  console.log(
    `schemathesis ${report.schemathesis_version}: ${report.operations.tested} operations, ${report.test_cases.generated} cases in ${report.running_time.toFixed(0)} s; ` +
      `${report.test_cases.unique_failures} unique failures (server errors ${serverErrors}, responses breaking the document ${schemaBreaks}), ${report.errors.length} errors; ${logged.length} errors logged by the server`,
  );
  for (const f of failures) console.log(`  ${f}`);
  assert.ok(report.complete, 'the run completed');
  assert.ok(report.test_cases.generated >= 500, `${report.test_cases.generated} cases generated`);
  assert.equal(serverErrors, 0, 'no 5xx');
  assert.equal(schemaBreaks, 0, 'every answer as documented');
  assert.deepEqual(failures, [], `schemathesis found failures:\n${output.slice(-20_000)}`);
  assert.deepEqual(report.errors, [], 'no errors');
  assert.equal(code, 0, output.slice(-5000));
  assert.deepEqual(logged, [], 'nothing the server had to log as an error');
  // and it still answers
  assert.equal((await fetch(`${app.baseUrl}/api/v1/ready`)).status, 200);
});
