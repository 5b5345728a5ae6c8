import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { verifyWebhook } from '@facewatch/api';
import { groupPhotos, identityImages } from '@facewatch/face/testing';
import { eventually, freePort, startEmbeddedProcess, startWebhookReceiver, type RunningProfile, type WebhookReceiver } from './launch.js';

// Webhook deliveries when receivers fail and processes die: never lost, never doubled.

const fast = { WEBHOOK_RETRY_INITIAL_MS: '50', WEBHOOK_RETRY_MAX_MS: '200', WEBHOOK_POLL_MS: '100', WEBHOOK_TIMEOUT_MS: '1000' };

async function api(app: RunningProfile, method: string, path: string, body?: unknown): Promise<any> {
  const res = await fetch(`${app.baseUrl}/api/v1${path}`, {
    method,
    headers: body === undefined || body instanceof FormData ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : body instanceof FormData ? body : JSON.stringify(body),
  });
  const text = await res.text();
  return text ? JSON.parse(text) : undefined;
}

async function enrolSheldon(app: RunningProfile): Promise<void> {
  const form = new FormData();
  form.append('name', 'sheldon');
  for (const img of identityImages().filter((i) => i.person === 'sheldon')) form.append('images', new Blob([readFileSync(img.path)]), img.file);
  await api(app, 'POST', '/blacklist/', form);
}

/** bbt4: Sheldon among five others; the one alert of this watch-list. */
async function processGroup(app: RunningProfile): Promise<string> {
  const group = groupPhotos().find((g) => g.file.endsWith('bbt4.jpg'))!;
  const [result] = await api(app, 'POST', '/process/process-images', { images: [readFileSync(group.path).toString('base64')] });
  const alerts = result.faces.filter((f: any) => f.decision === 'match');
  assert.equal(alerts.length, 1, JSON.stringify(result.faces.map((f: any) => [f.decision, f.candidates[0]?.name, f.score])));
  return result.id;
}

let receiver: WebhookReceiver;
before(async () => {
  receiver = await startWebhookReceiver();
});
after(async () => {
  await receiver.close();
});

test('a receiver that fails 3 times then succeeds gets the alert once: 4 tries of one delivery, the last answered 200', async () => {
  const app = await startEmbeddedProcess({ ...fast, URL_ALLOWED_HOSTS: `127.0.0.1:${receiver.port}` });
  try {
    await enrolSheldon(app);
    const hook = await api(app, 'POST', '/webhooks', { url: receiver.url });
    receiver.requests.length = 0;
    receiver.failNext(3);
    await processGroup(app);
    const delivery = await eventually(async () => {
      const page = await api(app, 'GET', `/webhooks/${hook.id}/deliveries`);
      return page.items[0]?.status === 'delivered' ? page.items[0] : undefined;
    }, 'the delivery delivered');
    assert.equal(delivery.attempts, 4);
    assert.equal(delivery.last_status, 200);
    assert.equal(delivery.last_error, null);
    assert.deepEqual(
      receiver.requests.map((r) => r.status),
      [503, 503, 503, 200],
    );
    assert.deepEqual(new Set(receiver.requests.map((r) => r.headers['x-facewatch-delivery'])), new Set([delivery.id]), 'every try is the same delivery');
    for (const r of receiver.requests) assert.ok(verifyWebhook(hook.secret, r.headers['x-facewatch-timestamp']!, r.headers['x-facewatch-signature']!, r.body));
    assert.equal(receiver.requests.filter((r) => r.status === 200).length, 1);
  } finally {
    assert.equal(await app.stop(), 0);
  }
});

test('a receiver that keeps failing: given up after WEBHOOK_MAX_ATTEMPTS, the last error visible', async () => {
  const app = await startEmbeddedProcess({ ...fast, WEBHOOK_MAX_ATTEMPTS: '3', URL_ALLOWED_HOSTS: `127.0.0.1:${receiver.port}` });
  try {
    await enrolSheldon(app);
    const hook = await api(app, 'POST', '/webhooks', { url: receiver.url });
    receiver.requests.length = 0;
    receiver.failNext(1000);
    await processGroup(app);
    const delivery = await eventually(async () => (await api(app, 'GET', `/webhooks/${hook.id}/deliveries?status=failed`)).items[0], 'the delivery given up');
    assert.deepEqual([delivery.attempts, delivery.last_status, delivery.last_error], [3, 503, 'the receiver answered HTTP 503']);
    assert.equal(receiver.requests.length, 3);
  } finally {
    receiver.failNext(0);
    assert.equal(await app.stop(), 0);
  }
});

test('killed (SIGKILL) between storing an alert and delivering its webhook: after the restart the receiver gets it exactly once', async () => {
  // the receiver is down at first: the alert is stored with its delivery, which cannot go out
  const port = await freePort();
  const env = { ...fast, URL_ALLOWED_HOSTS: `127.0.0.1:${port}` };
  const first = await startEmbeddedProcess(env);
  const work = first.work;
  let hookId: string;
  try {
    await enrolSheldon(first);
    const hook = await api(first, 'POST', '/webhooks', { url: `http://127.0.0.1:${port}/hook` });
    hookId = hook.id;
    await processGroup(first);
    await eventually(async () => {
      const d = (await api(first, 'GET', `/webhooks/${hook.id}/deliveries`)).items[0];
      return d?.attempts >= 1 && /ECONNREFUSED/.test(d.last_error ?? '') ? d : undefined;
    }, 'a failed try against the closed port');
  } finally {
    await first.kill!();
  }
  const late = await startWebhookReceiver(port);
  const second = await startEmbeddedProcess(env, { work });
  try {
    const delivery = await eventually(
      async () => (await api(second, 'GET', `/webhooks/${hookId}/deliveries`)).items.find((d: any) => d.status === 'delivered'),
      'the delivery after the restart',
    );
    assert.equal(late.requests.length, 1, 'delivered exactly once');
    assert.equal(late.requests[0]!.headers['x-facewatch-delivery'], delivery.id);
    const body = JSON.parse(late.requests[0]!.body);
    assert.equal(body.alert.name, 'sheldon');
  } finally {
    assert.equal(await second.stop(), 0);
    await late.close();
  }
  // stopped: nothing more went out
  assert.equal(late.requests.length, 1);
});
