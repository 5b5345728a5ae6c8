import assert from 'node:assert/strict';
import { copyFileSync, cpSync, existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { basename, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fixturesDir, groupPhotos, identityImages, noFaceImage, type GroupPhoto } from '@facewatch/face/testing';
import { verifyWebhook } from '@facewatch/api';
import sharp from 'sharp';
import { eventually, sseReader, startWebhookReceiver, type RunningProfile, type WebhookReceiver } from './launch.js';

// End-to-end: a running profile (the embedded process, or the scale profile's processes on Kafka
// and PostgreSQL), driven over HTTP, files and folders as a user would, with the real models on
// the fixture images. The same suite runs against both profiles: they must answer the same.

export type Launcher = (env: Record<string, string>) => Promise<RunningProfile>;

/** What differs, on purpose, between face backends; everything else must answer the same. */
export interface BackendVariant {
  kind: 'local' | 'aws_rekognition';
  /** A threshold (on the backend's distance scale) within which every labelled fixture face matches its person. */
  wideThreshold: number;
  /** Reference images kept outside blacklist_db/ (S3), as file names per person folder. */
  storedReferences?: (folder: string) => Promise<string[]>;
  /** Checks on everything the profile logged, once the suite is done. */
  checkLog?: (output: string) => void;
}

// a request threshold decides by distance alone: every labelled face is within 0.68 of its person (at most 0.591, docs/face-thresholds.md)
export const localBackend: BackendVariant = { kind: 'local', wideThreshold: 0.68 };

/** Registers the whole API suite against the profile `launch` starts. */
export function apiSuite(profile: string, launch: Launcher, backend: BackendVariant = localBackend): void {
  const local = backend.kind === 'local';
  let app: RunningProfile;
  const people = [...new Set(identityImages().map((i) => i.person))];
  const personIds = new Map<string, string>();

  async function call(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: any; headers: Headers }> {
    const res = await fetch(`${app.baseUrl}${path}`, {
      method,
      headers: body === undefined || body instanceof FormData ? headers : { 'content-type': 'application/json', ...headers },
      body: body === undefined ? undefined : body instanceof FormData ? body : JSON.stringify(body),
    });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      // not JSON (docs page)
    }
    return { status: res.status, body: parsed, headers: res.headers };
  }

  function form(fields: Record<string, string>, files: string[]): FormData {
    const f = new FormData();
    for (const [k, v] of Object.entries(fields)) f.append(k, v);
    for (const path of files) f.append('images', new Blob([readFileSync(path)]), basename(path));
    return f;
  }

  /** The labelled faces of a group result: the N largest faces, left to right (as expected.json counts them). */
  function labelled(result: any, group: GroupPhoto): { person: string; face: any }[] {
    const faces = [...result.faces].sort((a, b) => b.facial_area.w * b.facial_area.h - a.facial_area.w * a.facial_area.h).slice(0, group.faces.length);
    faces.sort((a, b) => a.facial_area.x + a.facial_area.w / 2 - (b.facial_area.x + b.facial_area.w / 2));
    return faces.map((face, i) => ({ person: group.faces[i]!, face }));
  }

  function assertNames(result: any, group: GroupPhoto, where: string): void {
    assert.equal(result.error, null, `${where}: ${JSON.stringify(result.error)}`);
    assert.ok(result.faces.length >= group.minFaces && result.faces.length <= group.maxFaces, `${where}: ${result.faces.length} faces`);
    for (const { person, face } of labelled(result, group)) {
      assert.equal(face.decision, 'match', `${where}: ${person} not matched`);
      assert.equal(face.blacklist_matches[0].name, person, `${where}: expected ${person}, got ${face.blacklist_matches[0].name}`);
    }
  }

  const base64 = (path: string): string => readFileSync(path).toString('base64');
  const threshold = backend.wideThreshold;

  let receiver: WebhookReceiver;
  before(async () => {
    receiver = await startWebhookReceiver();
    app = await launch({
      MAX_IMAGE_BYTES: String(3 * 1024 * 1024),
      // the test's webhook receiver listens on loopback: allowed by name, every other private address stays refused
      URL_ALLOWED_HOSTS: `127.0.0.1:${receiver.port}`,
      WEBHOOK_RETRY_INITIAL_MS: '50',
      WEBHOOK_RETRY_MAX_MS: '200',
      WEBHOOK_POLL_MS: '100',
      SSE_HEARTBEAT_MS: '300',
    });
  });
  after(async () => {
    await receiver?.close();
    const output = app.output();
    const code = await app.stop();
    backend.checkLog?.(output);
    assert.equal(code, 0, 'facewatch stops cleanly on SIGTERM');
  });

  describe(`${profile} over HTTP`, () => {
    test('health, readiness, OpenAPI document and docs page', async () => {
      const health = await call('GET', '/api/v1/');
      assert.equal(health.status, 200);
      assert.equal(health.body.status, 'ok');
      assert.ok(health.headers.get('x-request-id'));
      const ready = await call('GET', '/api/v1/ready');
      assert.deepEqual([ready.status, ready.body.ready, ready.body.models, ready.body.store], [200, true, true, true]);
      const doc = await call('GET', '/openapi.json');
      assert.equal(doc.body.openapi, '3.1.0');
      assert.ok(doc.body.paths['/api/v1/process/process-images'].post);
      const docs = await call('GET', '/docs');
      assert.match(String(docs.body), /swagger-ui/);
      const js = await fetch(`${app.baseUrl}/docs/swagger-ui-bundle.js`);
      assert.equal(js.status, 200);
    });

    test('enrol the 8 fixture people through multipart uploads', async () => {
      for (const person of people) {
        const files = identityImages()
          .filter((i) => i.person === person)
          .map((i) => i.path);
        const res = await call('POST', '/api/v1/blacklist/', form({ name: person, reason: 'fixture' }, files));
        assert.equal(res.status, 201, JSON.stringify(res.body));
        assert.equal(res.body.name, person);
        assert.equal(res.body.reason, 'fixture');
        assert.equal(res.body.image_count, 5);
        assert.deepEqual(res.body.rejected, []);
        personIds.set(person, res.body.id);
      }
      const list = await call('GET', '/api/v1/blacklist');
      assert.equal(list.body.total_items, 8);
      assert.deepEqual(list.body.items.map((p: any) => p.name).sort(), [...people].sort());
      assert.equal(readdirSync(app.dirs.blacklist).length, 8);
      const folder = readdirSync(app.dirs.blacklist)[0]!;
      if (local) {
        assert.equal(readdirSync(join(app.dirs.blacklist, folder)).length, 5);
      } else {
        // the images live in S3; the person's folder stays, empty
        assert.deepEqual(readdirSync(join(app.dirs.blacklist, folder)), []);
        assert.equal((await backend.storedReferences!(folder)).length, 5);
      }
    });

    test('adding images reports each rejection with its reason', async () => {
      const amy = personIds.get('amy')!;
      const group = groupPhotos()[0]!.path;
      const text = join(fixturesDir(), 'expected.json');
      const res = await call('POST', `/api/v1/blacklist/${amy}/images`, form({}, [noFaceImage(), group, text]));
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.equal(res.body.added, 0);
      assert.deepEqual(
        res.body.rejected.map((r: any) => [r.filename, r.code]),
        [
          ['white.png', 'NO_FACE'],
          [basename(group), 'MULTIPLE_FACES'],
          ['expected.json', 'IMAGE_UNSUPPORTED_FORMAT'],
        ],
      );
      assert.equal(res.body.image_count, 5);
    });

    test('process the 5 group photos as base64: every labelled face gets its name', async () => {
      const groups = groupPhotos();
      const res = await call('POST', '/api/v1/process/process-images', { images: groups.map((g) => base64(g.path)), threshold });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.equal(res.body.length, 5);
      res.body.forEach((r: any, i: number) => assertNames(r, groups[i]!, groups[i]!.file));
      const first = res.body[0];
      assert.ok(existsSync(join(app.dirs.processed, basename(first.stored_image_path))), 'a copy of the image is kept');
      const m = first.faces[0].blacklist_matches[0];
      assert.match(m.identity, /^blacklist_db\/[^/]+\/[^/]+\.png$/);
      assert.ok(m.distance <= m.threshold && m.threshold === threshold);
    });

    test('at the default threshold no labelled face gets a wrong name', async () => {
      const groups = groupPhotos();
      const res = await call('POST', '/api/v1/process/process-images', { images: groups.map((g) => base64(g.path)) });
      let matched = 0;
      res.body.forEach((r: any, i: number) => {
        for (const { person, face } of labelled(r, groups[i]!)) {
          if (face.decision === 'match') {
            matched++;
            assert.equal(face.blacklist_matches[0].name, person);
          }
        }
      });
      assert.ok(matched >= 20, `${matched} of 22 matched at the default threshold`);
      // every face says why: a reason, the closest people; local faces also their score and quality
      for (const r of res.body) {
        for (const face of r.faces) {
          assert.ok(['match', 'review', 'unknown'].includes(face.decision));
          assert.equal(typeof face.decision_reason, 'string');
          assert.equal(typeof face.decision_detail, 'string');
          assert.ok(Array.isArray(face.candidates) && Array.isArray(face.gates_failed));
          if (face.decision !== 'match') assert.deepEqual(face.blacklist_matches, [], 'only an alert lists matches');
          if (local) {
            assert.ok(face.quality.eye_distance_px > 0 && typeof face.quality.sharpness === 'number');
            if (face.decision === 'match') {
              assert.equal(face.decision_reason, 'match_threshold');
              assert.ok(face.score >= face.thresholds.match && face.match_confidence > 0.99, JSON.stringify(face));
              assert.equal(face.candidates[0].person_id, face.blacklist_matches[0].person_id);
            }
          }
        }
      }
    });

    test('alerts: a signed webhook, the live stream (with resume and heartbeats), evidence URLs and a review verdict', async () => {
      const refused = await call('POST', '/api/v1/webhooks', { url: 'http://10.1.2.3/hook' });
      assert.equal(refused.status, 400);
      assert.equal(refused.body.code, 'URL_NOT_ALLOWED');
      const created = await call('POST', '/api/v1/webhooks', { url: receiver.url, description: 'test desk' });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      const secret: string = created.body.secret;
      assert.ok(secret.length >= 32);
      assert.deepEqual(created.body.filters, { decisions: ['match'], person_ids: [] });
      const listed = await call('GET', '/api/v1/webhooks');
      assert.equal(listed.body.length, 1);
      assert.equal(listed.body[0].secret, undefined, 'the secret is shown once');

      const abort = new AbortController();
      const stream = await fetch(`${app.baseUrl}/api/v1/alerts/stream`, { signal: abort.signal });
      assert.equal(stream.headers.get('content-type'), 'text/event-stream');
      const events = sseReader(stream);
      try {
        const group = groupPhotos().find((g) => g.file.endsWith('bbt4.jpg'))!;
        const res = await call('POST', '/api/v1/process/process-images', { images: [base64(group.path)] });
        const result = res.body[0];
        const matched = result.faces.filter((f: any) => f.decision === 'match');
        assert.ok(matched.length >= 4, `${matched.length} matches`);
        // the stream: an event per alert, with its seq as id; heartbeats in between
        let first: { id?: string; event?: string; data?: string } | undefined;
        let heartbeat = false;
        while (!first || !heartbeat) {
          const e = await events.next();
          if (e.comment === 'keep-alive') heartbeat = true;
          if (e.event === 'face.matched' && !first) first = e;
        }
        const alert = JSON.parse(first.data!);
        assert.equal(alert.image_id, result.id);
        assert.equal(String(alert.seq), first.id);
        assert.match(alert.alert_id, /^[0-9a-f]{32}$/);
        assert.equal(alert.decision, 'match');
        assert.ok(matched.some((f: any) => f.face_index === alert.face_index && f.blacklist_matches[0].person_id === alert.person_id));

        // the webhook: one signed delivery per alert
        await eventually(async () => (receiver.requests.length >= matched.length ? true : undefined), 'a webhook per alert');
        for (const r of receiver.requests) {
          assert.equal(r.headers['content-type'], 'application/json');
          assert.ok(verifyWebhook(secret, r.headers['x-facewatch-timestamp']!, r.headers['x-facewatch-signature']!, r.body), 'the signature verifies');
          assert.ok(!verifyWebhook('another secret of enough length', r.headers['x-facewatch-timestamp']!, r.headers['x-facewatch-signature']!, r.body));
          assert.equal(r.headers['x-facewatch-event'], 'face.matched');
        }
        const bodies = receiver.requests.map((r) => JSON.parse(r.body));
        assert.deepEqual(new Set(bodies.map((b) => b.alert.image_id)), new Set([result.id]));
        assert.equal(new Set(bodies.map((b) => b.delivery_id)).size, receiver.requests.length, 'each alert once');
        const deliveries = await call('GET', `/api/v1/webhooks/${created.body.id}/deliveries`);
        assert.equal(deliveries.body.total_items, matched.length);
        assert.ok(deliveries.body.items.every((d: any) => d.status === 'delivered' && d.attempts === 1 && d.last_status === 200));

        // evidence: the probe face beside the reference it matched
        const evidence = alert.evidence;
        const image = async (url: string) => {
          const r = await fetch(`${app.baseUrl}${url}`);
          return { status: r.status, type: r.headers.get('content-type'), bytes: Buffer.from(await r.arrayBuffer()) };
        };
        const reference = await image(evidence.reference_face);
        assert.equal(reference.status, 200);
        assert.equal(reference.type, 'image/jpeg');
        assert.ok((await sharp(reference.bytes).metadata()).width! > 20);
        assert.equal((await image(evidence.reference_image)).status, 200);
        assert.equal((await image(evidence.image)).status, 200);
        if (local) {
          const face = await image(evidence.face);
          assert.equal(face.type, 'image/jpeg');
          const meta = await sharp(face.bytes).metadata();
          assert.deepEqual([meta.width, meta.height], [112, 112]);
          const context = await image(evidence.context);
          assert.ok((await sharp(context.bytes).metadata()).width! > 100);
        } else {
          // Rekognition gives no aligned face; nothing is kept
          assert.equal((await image(evidence.face)).status, 404);
        }

        // resume: a client that saw nothing after `first − 1` gets `first` again, from the store
        const again = new AbortController();
        const resumed = sseReader(await fetch(`${app.baseUrl}/api/v1/alerts/stream`, { signal: again.signal, headers: { 'Last-Event-ID': String(Number(first.id) - 1) } }));
        let replayed;
        do replayed = await resumed.next();
        while (!replayed.event);
        assert.equal(replayed.id, first.id);
        again.abort();
        const badResume = await call('GET', '/api/v1/alerts/stream', undefined, { 'Last-Event-ID': 'yesterday' });
        assert.equal(badResume.status, 422);
      } finally {
        abort.abort();
      }

      // the alerts API and a verdict
      const alerts = await call('GET', '/api/v1/alerts?decision=match&limit=100');
      assert.ok(alerts.body.total_items >= 4);
      const target = alerts.body.items[0];
      const verdict = await call('POST', `/api/v1/alerts/${target.alert_id}/review`, { status: 'confirmed', note: 'seen at the door' });
      assert.equal(verdict.status, 200);
      assert.deepEqual([verdict.body.review.status, verdict.body.review.note], ['confirmed', 'seen at the door']);
      assert.equal((await call('GET', `/api/v1/alerts/${target.alert_id}`)).body.review.status, 'confirmed');
      assert.ok((await call('GET', '/api/v1/alerts?review_status=confirmed')).body.items.some((a: any) => a.alert_id === target.alert_id));
      assert.equal((await call('POST', `/api/v1/alerts/${target.alert_id}/review`, { status: 'maybe' })).status, 422);
      assert.equal((await call('GET', '/api/v1/alerts/nope')).body.code, 'ALERT_NOT_FOUND');
      assert.equal((await call('DELETE', `/api/v1/webhooks/${created.body.id}`)).status, 204);
    });

    test('GET /metrics: Prometheus text with requests, webhook deliveries, stream clients and, where the matcher runs, per-stage times', async () => {
      const res = await fetch(`${app.baseUrl}/metrics`);
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
      const text = await res.text();
      assert.match(text, /^facewatch_http_request_duration_seconds_count\{method="POST",route="\/api\/v1\/process\/process-images",status="200"\} [1-9]/m);
      assert.match(text, /^facewatch_webhook_deliveries_total\{outcome="delivered"\} [1-9]/m);
      assert.match(text, /^facewatch_webhook_outbox_pending 0$/m);
      assert.match(text, /^facewatch_alert_stream_clients \d+$/m);
      assert.match(text, /^facewatch_process_resident_memory_bytes \d+/m);
      if (profile.startsWith('embedded') && local) {
        // one process: the matcher's figures are here too
        for (const stage of ['decode', 'detect', 'align', 'embed', 'search', 'persist', 'publish']) {
          assert.match(text, new RegExp(`^facewatch_stage_duration_seconds_count\\{stage="${stage}"\\} [1-9]`, 'm'), stage);
        }
        assert.match(text, /^facewatch_images_processed_total\{source="api",outcome="ok"\} [1-9]/m);
        assert.match(text, /^facewatch_faces_processed_total\{decision="match"\} [1-9]/m);
        assert.match(text, /^facewatch_alerts_total\{decision="match"\} [1-9]/m);
        assert.match(text, /^facewatch_inference_queue_depth \d+$/m);
        assert.match(text, /^facewatch_inbox_pending_files \d+$/m);
      }
    });

    test('calibration: the parameters in use with thresholds for this watch-list; a fit from the enrolled people', async () => {
      const current = await call('GET', '/api/v1/calibration');
      assert.equal(current.status, 200, JSON.stringify(current.body));
      assert.equal(current.body.people, 8);
      assert.equal(current.body.params.format, 'facewatch.decision-params/1');
      assert.ok(current.body.thresholds.match > current.body.thresholds.review);
      const sizes = current.body.by_size.map((r: any) => r.people);
      assert.deepEqual(sizes, [1, 8, 10, 100, 1000, 10000]);
      const byPeople = new Map(current.body.by_size.map((r: any) => [r.people, r.match]));
      assert.ok((byPeople.get(1000) as number) > (byPeople.get(10) as number), 'a longer list needs a higher score');
      const fit = await call('POST', '/api/v1/calibration', { target_fmr: 0.0005 });
      if (!local) {
        assert.equal(fit.status, 501);
        assert.equal(fit.body.code, 'UNSUPPORTED_BY_BACKEND');
        return;
      }
      assert.equal(fit.status, 200, JSON.stringify(fit.body));
      assert.equal(fit.body.params.fitted.people, 8);
      assert.equal(fit.body.params.fitted.reference_faces, 40);
      assert.equal(fit.body.params.fitted.genuine_scores, 40);
      assert.equal(fit.body.params.fitted.impostor_scores, 40 * 7);
      assert.equal(fit.body.params.targets.match_false_alert_rate, 0.0005);
      assert.ok(
        fit.body.warnings.some((w: string) => /impostor scores/.test(w)),
        'no strangers: the fit says it is rough',
      );
      const bad = await call('POST', '/api/v1/calibration', { target_fmr: 2 });
      assert.equal(bad.status, 422);
    });

    test('process group photos given as allowed server paths; one bad image does not fail the others', async () => {
      const groups = groupPhotos();
      const res = await call('POST', '/api/v1/process/process-images', {
        images: [groups[1]!.path, '/etc/passwd', groups[3]!.path, 'aGVsbG8gd29ybGQgdGhpcyBpcyBub3QgYW4gaW1hZ2UgYXQgYWxsIGp1c3QgdGV4dCBpbiBiYXNlNjQ='],
        threshold,
      });
      assert.equal(res.status, 200);
      assert.equal(res.body.length, 4);
      assertNames(res.body[0], groups[1]!, 'path bbt2');
      assert.equal(res.body[1].error.code, 'PATH_NOT_ALLOWED');
      assertNames(res.body[2], groups[3]!, 'path bbt4');
      assert.equal(res.body[3].error.code, 'IMAGE_UNSUPPORTED_FORMAT');
      assert.equal(res.body[0].image_path_or_identifier, groups[1]!.path);
    });

    test('photos dropped into the inbox are processed once and moved to done/', async () => {
      const groups = groupPhotos();
      for (const g of groups) copyFileSync(g.path, join(app.dirs.inbox, basename(g.path)));
      copyFileSync(join(fixturesDir(), 'expected.json'), join(app.dirs.inbox, 'notes.jpg'));
      await eventually(async () => (existsSync(join(app.dirs.inbox, 'done')) && readdirSync(join(app.dirs.inbox, 'done')).length === 5 ? true : undefined), 'inbox files done');
      await eventually(async () => (existsSync(join(app.dirs.inbox, 'failed', 'notes.jpg')) ? true : undefined), 'bad inbox file failed');
      const error = JSON.parse(readFileSync(join(app.dirs.inbox, 'failed', 'notes.jpg.error.json'), 'utf8'));
      assert.equal(error.code, 'IMAGE_UNSUPPORTED_FORMAT');
      assert.deepEqual(
        readdirSync(app.dirs.inbox)
          .filter((f) => !f.startsWith('.'))
          .sort(),
        ['done', 'failed'],
      );
      const page = await call('GET', '/api/v1/processed-images?limit=100');
      for (const g of groups) {
        const r = page.body.items.find((i: any) => i.source === 'inbox' && i.image_path_or_identifier === basename(g.path));
        assert.ok(r, `inbox result for ${g.file}`);
        // inbox images use the default threshold: every face that matched has the right name
        for (const { person, face } of labelled(r, g)) if (face.decision === 'match') assert.equal(face.blacklist_matches[0].name, person);
      }
    });

    test('processed results: pagination, newest first, filters', async () => {
      const all = await call('GET', '/api/v1/processed-images/?offset=0&limit=100');
      const total = all.body.total_items;
      // results are keyed by image content (+ model, detector): the 5 group photos sent three ways are
      // 5 results, plus the 3 failures (a refused path, bytes that are no image, a text file)
      assert.equal(total, 8);
      const times = all.body.items.map((i: any) => i.processed_at);
      assert.deepEqual([...times].sort().reverse(), times, 'newest first');
      const page1 = await call('GET', '/api/v1/processed-images?offset=0&limit=3');
      const page2 = await call('GET', '/api/v1/processed-images?offset=3&limit=3');
      assert.equal(page1.body.items.length, 3);
      assert.equal(page1.body.total_items, total);
      assert.deepEqual(
        [...page1.body.items, ...page2.body.items].map((i: any) => i.id),
        all.body.items.slice(0, 6).map((i: any) => i.id),
      );
      const matched = await call('GET', '/api/v1/processed-images?matched=true&limit=100');
      const unmatched = await call('GET', '/api/v1/processed-images?matched=false&limit=100');
      assert.equal(matched.body.total_items + unmatched.body.total_items, total);
      assert.ok(matched.body.items.every((i: any) => i.matched));
      assert.ok(unmatched.body.items.every((i: any) => !i.matched));
      const raj = personIds.get('raj')!;
      const rajResults = await call('GET', `/api/v1/processed-images?person_id=${raj}&limit=100`);
      assert.ok(rajResults.body.total_items > 0);
      assert.ok(rajResults.body.items.every((i: any) => i.faces.some((f: any) => f.blacklist_matches.some((m: any) => m.person_id === raj))));
      const future = await call('GET', `/api/v1/processed-images?since=${encodeURIComponent(new Date(Date.now() + 60_000).toISOString())}`);
      assert.equal(future.body.total_items, 0);
      const one = await call('GET', `/api/v1/processed-images/${all.body.items[0].id}`);
      assert.deepEqual(one.body, all.body.items[0]);
      // the same image again: the same result id, no second row
      const again = await call('POST', '/api/v1/process/process-images', { images: [base64(groupPhotos()[0]!.path)] });
      assert.ok(all.body.items.some((i: any) => i.id === again.body[0].id));
      assert.equal((await call('GET', '/api/v1/processed-images')).body.total_items, total);
      const bad = await call('GET', '/api/v1/processed-images?limit=0');
      assert.equal(bad.status, 422);
    });

    test('update a person: later matches carry the new name', async () => {
      const howard = personIds.get('howard')!;
      const res = await call('PUT', `/api/v1/blacklist/${howard}/`, { name: 'Howard W.', reason: 'renamed' });
      assert.equal(res.status, 200);
      assert.deepEqual([res.body.name, res.body.reason, res.body.image_count], ['Howard W.', 'renamed', 5]);
      const got = await call('GET', `/api/v1/blacklist/${howard}`);
      assert.equal(got.body.name, 'Howard W.');
      const g = groupPhotos().find((x) => x.faces.includes('howard'))!;
      const r = await call('POST', '/api/v1/process/process-images', { images: [base64(g.path)], threshold });
      const names = r.body[0].faces.flatMap((f: any) => f.blacklist_matches.map((m: any) => m.name));
      assert.ok(names.includes('Howard W.') && !names.includes('howard'), names.join(','));
    });

    test('delete a person: gone from the list, the folder and later matches; erased from stored results, alerts and evidence', async () => {
      const penny = personIds.get('penny')!;
      const before = await call('GET', `/api/v1/blacklist/${penny}`);
      assert.equal(before.status, 200);
      const alertsBefore = (await call('GET', `/api/v1/alerts?person_id=${penny}`)).body.items;
      assert.ok(alertsBefore.length > 0, 'penny was alerted earlier in the suite');
      const del = await call('DELETE', `/api/v1/blacklist/${penny}`);
      assert.equal(del.status, 204);
      assert.equal((await call('GET', `/api/v1/alerts?person_id=${penny}`)).body.total_items, 0, 'her alerts are gone');
      for (const a of alertsBefore) {
        assert.equal((await call('GET', `/api/v1/alerts/${a.alert_id}`)).status, 404);
        assert.equal((await call('GET', a.evidence.face)).status, 404, 'the crop of the face matched to her is gone');
        const result = await call('GET', `/api/v1/processed-images/${a.image_id}`);
        assert.ok(!JSON.stringify(result.body).includes(penny), 'no stored result names her');
      }
      const audit = await call('GET', `/api/v1/audit?target_id=${penny}`);
      assert.deepEqual(
        audit.body.items.map((e: any) => e.action),
        ['person.delete', 'person.create'],
        'the audit log keeps that it happened',
      );
      assert.ok(audit.body.items[0].details.alerts >= 1);
      assert.equal((await call('GET', `/api/v1/blacklist/${penny}`)).body.code, 'PERSON_NOT_FOUND');
      assert.equal((await call('GET', '/api/v1/blacklist/')).body.total_items, 7);
      assert.ok(!readdirSync(app.dirs.blacklist).includes('penny'));
      if (!local) assert.deepEqual(await backend.storedReferences!('penny'), [], 'S3 objects deleted');
      const g = groupPhotos().find((x) => x.faces.includes('penny'))!;
      const r = await call('POST', '/api/v1/process/process-images', { images: [base64(g.path)], threshold });
      const ids = r.body[0].faces.flatMap((f: any) => f.blacklist_matches.map((m: any) => m.person_id));
      assert.ok(!ids.includes(penny));
      const pennyFace = labelled(r.body[0], g).find((l) => l.person === 'penny')!;
      assert.equal(pennyFace.face.decision, 'unknown');
    });

    test('blacklist_db edited by hand: a new folder becomes a person, a removed one is deleted', async () => {
      const src = join(fixturesDir(), 'identities', 'penny');
      cpSync(src, join(app.dirs.blacklist, 'penny_by_hand'), { recursive: true });
      const person = await eventually(async () => {
        const list = await call('GET', '/api/v1/blacklist?limit=100');
        const p = list.body.items.find((i: any) => i.name === 'penny_by_hand');
        return p?.image_count === 5 ? p : undefined;
      }, 'hand-made folder indexed');
      const g = groupPhotos().find((x) => x.faces.includes('penny'))!;
      const r = await call('POST', '/api/v1/process/process-images', { images: [base64(g.path)], threshold });
      assert.equal(labelled(r.body[0], g).find((l) => l.person === 'penny')!.face.blacklist_matches[0].name, 'penny_by_hand');
      if (local) {
        // remove one file: un-indexed
        rmSync(join(app.dirs.blacklist, 'penny_by_hand', 'penny1.png'));
        await eventually(async () => ((await call('GET', `/api/v1/blacklist/${person.id}`)).body.image_count === 4 ? true : undefined), 'removed file un-indexed');
      } else {
        // a drop folder: the files move to S3 and the local copies go
        await eventually(async () => (readdirSync(join(app.dirs.blacklist, 'penny_by_hand')).length === 0 ? true : undefined), 'local copies removed');
        assert.deepEqual((await backend.storedReferences!('penny_by_hand')).sort(), readdirSync(src).sort());
      }
      rmSync(join(app.dirs.blacklist, 'penny_by_hand'), { recursive: true });
      await eventually(async () => ((await call('GET', `/api/v1/blacklist/${person.id}`)).status === 404 ? true : undefined), 'removed folder deleted');
      if (!local) assert.deepEqual(await backend.storedReferences!('penny_by_hand'), [], 'S3 objects deleted with the folder');
    });

    test('detect-face, represent and verify', async () => {
      const g = groupPhotos()[2]!;
      const det = await call('POST', '/api/v1/detect/detect-face', { image: base64(g.path) });
      assert.equal(det.status, 200);
      assert.equal(det.body.length, g.minFaces);
      assert.deepEqual(Object.keys(det.body[0]), ['facial_area', 'confidence']);
      const area = det.body[0].facial_area;
      assert.ok(area.left_eye[0] > area.right_eye[0] && area.mouth_left[0] > area.mouth_right[0], "left_eye is the person's left, on the image's right");
      if (local) {
        const ultra = await call('POST', '/api/v1/detect/detect-face/', { image: g.path, detector_backend: 'ultraface' });
        assert.equal(ultra.body.length, g.minFaces);
        const rep = await call('POST', '/api/v1/represent', { img: identityImages()[0]!.path });
        assert.equal(rep.body.results.length, 1);
        assert.equal(rep.body.results[0].embedding.length, 512);
      } else {
        // Rekognition exposes no embeddings, and runs no local detector
        for (const [path, body] of [
          ['/api/v1/detect/detect-face', { image: g.path, detector_backend: 'ultraface' }],
          ['/api/v1/represent', { img: identityImages()[0]!.path }],
          ['/api/v1/verify', { img1: identityImages()[0]!.path, img2: identityImages()[1]!.path, distance_metric: 'cosine' }],
        ] as const) {
          const res = await call('POST', path, body);
          assert.deepEqual([res.status, res.body.code], [501, 'UNSUPPORTED_BY_BACKEND'], path);
          // a 5xx body says nothing about the deployment: the code says what is wrong (docs/errors.md)
          assert.doesNotMatch(res.body.message, /FACE_PROCESSING_BACKEND|aws|rekognition/i, 'no internals');
        }
      }
      const amy = identityImages().filter((i) => i.person === 'amy');
      const same = await call('POST', '/api/v1/verify', { img1: amy[0]!.path, img2: base64(amy[1]!.path) });
      assert.deepEqual(
        [same.status, same.body.verified, same.body.distance_metric, same.body.model, same.body.detector_backend],
        local ? [200, true, 'cosine', 'fr_feature', 'yunet'] : [200, true, 'rekognition_similarity', 'aws_rekognition', 'aws_rekognition'],
      );
      assert.ok(same.body.distance <= same.body.threshold);
      const raj = identityImages().find((i) => i.person === 'raj')!.path;
      const other = await call('POST', '/api/v1/verify', { img1: amy[0]!.path, img2: raj, ...(local ? { distance_metric: 'euclidean_l2' } : {}) });
      assert.deepEqual([other.status, other.body.verified], [200, false]);
      for (const [img1, img2, field] of [
        [amy[0]!.path, noFaceImage(), 'img2'],
        [noFaceImage(), amy[0]!.path, 'img1'],
      ] as const) {
        const noFace = await call('POST', '/api/v1/verify', { img1, img2 });
        assert.deepEqual([noFace.status, noFace.body.code, noFace.body.details?.field], [422, 'NO_FACE', field]);
      }
    });

    test('errors: clear codes, the right statuses, a request id, no internals', async () => {
      const cases: [string, string, unknown, number, string][] = [
        ['GET', '/api/v1/blacklist/00000000-0000-0000-0000-000000000000', undefined, 404, 'PERSON_NOT_FOUND'],
        ['PUT', '/api/v1/blacklist/00000000-0000-0000-0000-000000000000', { name: 'x' }, 404, 'PERSON_NOT_FOUND'],
        ['DELETE', '/api/v1/blacklist/00000000-0000-0000-0000-000000000000', undefined, 404, 'PERSON_NOT_FOUND'],
        ['GET', '/api/v1/processed-images/nope', undefined, 404, 'RESULT_NOT_FOUND'],
        ['GET', '/api/v1/no-such-route', undefined, 404, 'NOT_FOUND'],
        ['POST', '/api/v1/detect/detect-face', { image: Buffer.from('x'.repeat(300)).toString('base64') }, 422, 'IMAGE_UNSUPPORTED_FORMAT'],
        ['POST', '/api/v1/detect/detect-face', { image: Buffer.alloc(4 * 1024 * 1024, 7).toString('base64') }, 413, 'PAYLOAD_TOO_LARGE'],
        ['POST', '/api/v1/detect/detect-face', { image: '/etc/hostname' }, 403, 'PATH_NOT_ALLOWED'],
        ['POST', '/api/v1/detect/detect-face', { image: join(fixturesDir(), '..', '..', 'docs', 'STYLE.md') }, 403, 'PATH_NOT_ALLOWED'],
        ['POST', '/api/v1/detect/detect-face', { image: join(fixturesDir(), 'no-such.jpg') }, 404, 'IMAGE_NOT_FOUND'],
        ['POST', '/api/v1/detect/detect-face', { image: 'http://127.0.0.1:9/x.jpg' }, 400, 'URL_NOT_ALLOWED'],
        ['POST', '/api/v1/detect/detect-face', { image: 'http://169.254.169.254/latest/meta-data/' }, 400, 'URL_NOT_ALLOWED'],
        ['POST', '/api/v1/detect/detect-face', { image: 'file:///etc/passwd' }, 400, 'URL_NOT_ALLOWED'],
        ['POST', '/api/v1/detect/detect-face', { image: noFaceImage(), detector_backend: 'retinaface' }, 422, 'INVALID_ARGUMENT'],
        ['POST', '/api/v1/detect/detect-face', {}, 422, 'INVALID_ARGUMENT'],
        ['POST', '/api/v1/process/process-images', { images: [] }, 422, 'INVALID_ARGUMENT'],
        ['POST', '/api/v1/process/process-images', { images: ['x'], distance_metric: 'manhattan' }, 422, 'INVALID_ARGUMENT'],
        ['POST', '/api/v1/blacklist/', { name: 'json, not multipart' }, 422, 'INVALID_ARGUMENT'],
      ];
      for (const [method, path, body, status, code] of cases) {
        const res = await call(method, path, body);
        assert.equal(res.status, status, `${method} ${path}: ${JSON.stringify(res.body)}`);
        assert.equal(res.body.code, code, `${method} ${path}`);
        assert.ok(res.body.request_id && res.body.request_id === res.headers.get('x-request-id'));
        assert.ok(typeof res.body.message === 'string' && !/\n\s+at /.test(res.body.message), 'no stack trace');
      }
      const malformed = await fetch(`${app.baseUrl}/api/v1/verify`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"img1": ' });
      assert.equal(malformed.status, 422);
      const noName = await call('POST', '/api/v1/blacklist/', form({}, []));
      assert.deepEqual([noName.status, noName.body.code], [422, 'INVALID_ARGUMENT']);
      const tooBig = new FormData();
      tooBig.append('name', 'big');
      tooBig.append('images', new Blob([Buffer.alloc(4 * 1024 * 1024)]), 'big.jpg');
      const big = await call('POST', '/api/v1/blacklist/', tooBig);
      assert.deepEqual([big.status, big.body.code], [413, 'PAYLOAD_TOO_LARGE']);
      // the server still serves after all of that
      assert.equal((await call('GET', '/api/v1/ready')).status, 200);
    });
  });
}
