import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { basename } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { identityImages } from '@facewatch/face/testing';
import { startHostileServers, type HostileServers } from './corpus/hostile-servers.js';
import { eventually, startEmbeddedProcess, type RunningProfile } from './launch.js';

// The API's edge as an attacker and as its operators see it, on the running `npm start` process:
// named keys with scopes (read / write / admin) beside API_KEY, the key's name (never the key) in
// logs and review verdicts, the rate limit on changing requests, 405 with Allow for methods a path
// does not take, and 5xx bodies that say nothing internal (a process-images reply time-out: 504).

// each key's budget of changing requests is its own: `limited` is spent by the rate-limit test alone
const keys = {
  admin: 'security-admin-key-000000000001',
  reader: 'security-reader-key-00000000002',
  writer: 'security-writer-key-00000000003',
  ops: 'security-ops-key-0000000000000004',
  limited: 'security-limited-key-0000000005',
};
let app: RunningProfile;
let servers: HostileServers;

async function call(method: string, path: string, key?: string, body?: unknown, extra: Record<string, string> = {}): Promise<{ status: number; body: any; headers: Headers }> {
  const headers: Record<string, string> = { ...(key ? { 'x-api-key': key } : {}), ...extra };
  let payload: RequestInit['body'];
  if (body instanceof FormData) payload = body;
  else if (body !== undefined) {
    headers['content-type'] = 'application/json';
    payload = JSON.stringify(body);
  }
  const res = await fetch(`${app.baseUrl}${path}`, { method, headers, body: payload });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    // metrics, docs
  }
  return { status: res.status, body: parsed, headers: res.headers };
}

/** Any method, TRACE included (fetch refuses it), without a body. */
function rawCall(method: string, path: string, key: string): Promise<{ status: number; body: any; allow: string }> {
  return new Promise((resolve, reject) => {
    const req = request(`${app.baseUrl}${path}`, { method, headers: { 'x-api-key': key } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text ? JSON.parse(text) : undefined, allow: String(res.headers['allow'] ?? '') }));
    });
    req.on('error', reject);
    req.end();
  });
}

before(async () => {
  servers = await startHostileServers({});
  app = await startEmbeddedProcess({
    API_KEY: keys.admin,
    API_KEYS: `reader:read:${keys.reader}, writer:write:${keys.writer}, ops:admin:${keys.ops},limited:write:${keys.limited}`,
    // one changing request per 2 s per key, 3 at once
    RATE_LIMIT_PER_MINUTE: '30',
    RATE_LIMIT_BURST: '3',
    RESULT_TIMEOUT_MS: '1000',
    URL_FETCH_TIMEOUT_MS: '5000',
    URL_ALLOWED_HOSTS: servers.allowed.replace('http://', ''),
    // every request is logged at debug: none of those lines may hold a key
    LOG_LEVEL: 'debug',
  });
});

after(async () => {
  await app?.stop();
  await servers?.close();
});

describe('API keys', () => {
  test('without a key, or with a wrong one: 401 UNAUTHORIZED; health and readiness stay open', async () => {
    for (const key of [undefined, 'wrong-key', `${keys.admin}x`, keys.admin.slice(0, -1)]) {
      const res = await call('GET', '/api/v1/blacklist', key);
      assert.deepEqual([res.status, res.body.code], [401, 'UNAUTHORIZED'], String(key));
    }
    assert.equal((await call('GET', '/api/v1/')).status, 200);
    assert.equal((await call('GET', '/api/v1/ready')).status, 200);
    assert.equal((await call('GET', '/metrics')).status, 401);
    assert.equal((await call('GET', '/metrics', undefined, undefined, { authorization: `Bearer ${keys.reader}` })).status, 200, 'a bearer token works');
  });

  test('scopes: read keys read, write keys change, admin keys also manage webhooks and calibration (403 FORBIDDEN otherwise)', async () => {
    const cases: [string, string, keyof typeof keys, number][] = [
      ['GET', '/api/v1/blacklist', 'reader', 200],
      ['GET', '/api/v1/alerts', 'reader', 200],
      ['GET', '/api/v1/calibration', 'reader', 200],
      ['POST', '/api/v1/detect/detect-face', 'reader', 403],
      ['PUT', '/api/v1/blacklist/00000000-0000-0000-0000-000000000000', 'reader', 403],
      ['DELETE', '/api/v1/blacklist/00000000-0000-0000-0000-000000000000', 'reader', 403],
      ['GET', '/api/v1/webhooks', 'reader', 403],
      ['GET', '/api/v1/webhooks', 'writer', 403],
      ['POST', '/api/v1/webhooks', 'writer', 403],
      ['POST', '/api/v1/calibration', 'writer', 403],
      ['DELETE', '/api/v1/blacklist/00000000-0000-0000-0000-000000000000', 'admin', 404],
      ['GET', '/api/v1/webhooks', 'ops', 200],
      ['GET', '/api/v1/webhooks', 'admin', 200],
      // admin keys may calibrate: with no one enrolled yet there is nothing to fit
      ['POST', '/api/v1/calibration', 'ops', 409],
    ];
    for (const [method, path, who, status] of cases) {
      const res = await call(method, path, keys[who], method === 'POST' || method === 'PUT' ? {} : undefined);
      assert.equal(res.status, status, `${who} ${method} ${path}: ${JSON.stringify(res.body)}`);
      if (status === 403) {
        assert.equal(res.body.code, 'FORBIDDEN');
        assert.match(res.body.message, new RegExp(`"${who}" has scope`));
      }
    }
  });

  test("the key's name is who reviewed an alert (reviewed_by), and appears in the log; no key ever does", async () => {
    const amy = identityImages().filter((i) => i.person === 'amy');
    const form = new FormData();
    form.append('name', 'Amy');
    for (const img of amy.slice(0, 2)) form.append('images', new Blob([readFileSync(img.path)]), basename(img.path));
    const enrolled = await call('POST', '/api/v1/blacklist', keys.writer, form);
    assert.equal(enrolled.status, 201, JSON.stringify(enrolled.body));
    const processed = await call('POST', '/api/v1/process/process-images', keys.writer, { images: [amy[2]!.path] });
    assert.equal(processed.status, 200, JSON.stringify(processed.body));
    assert.equal(processed.body[0].faces[0].decision, 'match');
    const alerts = await call('GET', `/api/v1/alerts?person_id=${enrolled.body.id}`, keys.reader);
    assert.equal(alerts.body.total_items, 1);
    const reviewed = await call('POST', `/api/v1/alerts/${alerts.body.items[0].alert_id}/review`, keys.writer, { status: 'confirmed' });
    assert.equal(reviewed.status, 200, JSON.stringify(reviewed.body));
    assert.deepEqual([reviewed.body.review.status, reviewed.body.review.reviewed_by], ['confirmed', 'writer']);
    // the request lines reach this process after the answers
    await eventually(async () => (app.output().includes('"apiKeyName":"writer"') ? true : undefined), "the writer key's name in the log", 10_000);
    const log = app.output();
    for (const [who, key] of Object.entries(keys)) assert.ok(!log.includes(key), `the ${who} key is in the log`);
  });
});

describe('rate limit on changing requests', () => {
  test('per key: a burst, then 429 RATE_LIMITED with Retry-After; reads and other keys go on; after Retry-After it passes again', async () => {
    const detect = () => call('POST', '/api/v1/detect/detect-face', keys.limited, { image: '' });
    const answers = [];
    for (let i = 0; i < 5; i++) answers.push(await detect());
    // the first three are the burst (each refused for its empty image); at 1 per 2 s a fourth within 2 s is over the limit
    assert.deepEqual(
      answers.slice(0, 3).map((a) => a.status),
      [422, 422, 422],
    );
    const limited = answers.find((a) => a.status === 429);
    assert.ok(limited, `no 429 in ${answers.map((a) => a.status).join(', ')}`);
    assert.equal(limited.body.code, 'RATE_LIMITED');
    const retryAfter = Number(limited.headers.get('retry-after'));
    assert.ok(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 2, `Retry-After: ${retryAfter}`);
    assert.ok(limited.body.request_id);
    // reads are not limited, and every key has its own budget
    for (let i = 0; i < 10; i++) assert.equal((await call('GET', '/api/v1/blacklist', keys.limited)).status, 200);
    assert.equal((await call('POST', '/api/v1/detect/detect-face', keys.admin, { image: '' })).status, 422);
    // the client waits as told (Retry-After), and is served again
    await new Promise((resolve) => setTimeout(resolve, retryAfter * 1000 + 100));
    assert.equal((await detect()).status, 422);
  });
});

describe('methods and server errors', () => {
  test('a method a path does not take: 405 METHOD_NOT_ALLOWED with Allow; OPTIONS lists them; unknown paths stay 404', async () => {
    for (const [method, path, allowed] of [
      ['TRACE', '/api/v1/blacklist', ['GET', 'POST']],
      ['PATCH', '/api/v1/blacklist/some-id', ['GET', 'PUT', 'DELETE']],
      ['TRACE', '/api/v1/', ['GET']],
      ['DELETE', '/api/v1/detect/detect-face', ['POST']],
      ['POST', '/openapi.json', ['GET']],
    ] as const) {
      const res = await rawCall(method, path, keys.admin);
      assert.deepEqual([res.status, res.body.code], [405, 'METHOD_NOT_ALLOWED'], `${method} ${path}`);
      const allow = res.allow.split(',').map((m) => m.trim());
      for (const m of allowed) assert.ok(allow.includes(m), `${method} ${path}: Allow ${allow.join(', ')} lacks ${m}`);
      assert.ok(!allow.includes(method), `${method} ${path}: Allow lists ${method}`);
    }
    const options = await rawCall('OPTIONS', '/api/v1/blacklist/some-id', keys.admin);
    assert.equal(options.status, 204);
    assert.deepEqual(options.allow.split(', ').sort(), ['DELETE', 'GET', 'HEAD', 'OPTIONS', 'PUT']);
    assert.deepEqual([(await rawCall('TRACE', '/api/v1/no-such-route', keys.admin)).status], [404]);
  });

  test('process-images whose result does not come in time: 504 RESULT_TIMEOUT, Retry-After, and a body that says nothing internal', async () => {
    // the matcher waits URL_FETCH_TIMEOUT_MS (5 s) on a server that never answers; the API waits RESULT_TIMEOUT_MS (1 s)
    const res = await call('POST', '/api/v1/process/process-images', keys.writer, { images: [`${servers.allowed}/stall`] });
    assert.deepEqual([res.status, res.body.code], [504, 'RESULT_TIMEOUT'], JSON.stringify(res.body));
    assert.equal(res.headers.get('retry-after'), '1');
    assert.deepEqual(Object.keys(res.body).sort(), ['code', 'message', 'request_id']);
    assert.equal(res.body.request_id, res.headers.get('x-request-id'));
    assert.doesNotMatch(res.body.message, /event|ms|127\.0\.0\.1|stall|[0-9a-f]{8}-/i, 'no event ids, limits or addresses');
    // the server log has the details under the request id (its lines reach this process after the answer)
    await eventually(
      async () =>
        app
          .output()
          .split('\n')
          .some((line) => line.includes(res.body.request_id) && line.includes('RESULT_TIMEOUT') && line.includes('no result for image event'))
          ? true
          : undefined,
      'the log line of the time-out',
      10_000,
    );
  });
});
