import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, extname, join } from 'node:path';
import { after, before, test } from 'node:test';
import { fixturesDir, identityImages } from '@facewatch/face/testing';
import { base64Cases, expectedFor, inlineImageCases, jsonCases, multipartCases, pathCases, urlCases, type ApiCase } from './corpus/api-cases.js';
import { startHostileServers, type HostileServers } from './corpus/hostile-servers.js';
import { malformedImages, type MalformedImage } from './corpus/images.js';
import { eventually, startEmbeddedProcess, type RunningProfile } from './launch.js';

// The malformed-input corpus (issue #13): over a thousand broken inputs, made by corpus/*.ts from
// one real photo on every run, sent to the running `npm start` process through the API (inline
// images, URLs to hostile local servers, hostile server paths, broken JSON and multipart bodies)
// and through the watched inbox folder. Each must get its right answer (a 4xx with its code; in
// the inbox, failed/ with the code in its .error.json), none a 5xx, and the process must keep
// answering: a good image sent after the corpus still matches its person.

const seed = 1313;
const key = 'corpus-admin-key-0123456789abcdef';
let app: RunningProfile;
let servers: HostileServers;
let work: string;
let images: MalformedImage[];
let good: Awaited<ReturnType<typeof malformedImages>>['good'];
let amyId: string;
let targetId: string;

const headers = { 'x-api-key': key };
async function api(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(`${app.baseUrl}${path}`, {
    method,
    headers: body instanceof FormData || body === undefined ? headers : { ...headers, 'content-type': 'application/json' },
    body: body === undefined ? undefined : body instanceof FormData ? body : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

function enrolForm(name: string, files: string[]): FormData {
  const form = new FormData();
  form.append('name', name);
  for (const f of files) form.append('images', new Blob([readFileSync(f)]), basename(f));
  return form;
}

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'facewatch-corpus-'));
  const root = join(work, 'paths');
  mkdirSync(root);
  // the corpus photo shows sheldon; amy is enrolled to check, after the corpus, that matching still works
  const photo = identityImages().find((i) => i.person === 'sheldon')!.path;
  ({ good, images } = await malformedImages(photo, seed));
  servers = await startHostileServers({
    'good.jpg': good.jpeg,
    'truncated.jpg': good.jpeg.subarray(0, 700),
    'huge.png': images.find((i) => i.name === 'png-huge-dimensions')!.bytes,
  });
  app = await startEmbeddedProcess({
    API_KEY: key,
    // the corpus sends over a thousand changing requests at once: the rate limit has its own test
    RATE_LIMIT_PER_MINUTE: '0',
    IMAGE_PATH_ROOTS: `${fixturesDir()},${root}`,
    URL_ALLOWED_HOSTS: servers.allowed.replace('http://', ''),
    URL_FETCH_TIMEOUT_MS: '1500',
    MAX_IMAGE_BYTES: String(8 * 1024 * 1024),
    MAX_IMAGE_PIXELS: '20000000',
    MAX_REQUEST_BYTES: String(16 * 1024 * 1024),
    INBOX_STABLE_MS: '300',
    INBOX_INCOMPLETE_MS: '1500',
    LOG_LEVEL: 'warn',
  });
  const amy = identityImages().filter((i) => i.person === 'amy');
  const enrolled = await api('POST', '/api/v1/blacklist', enrolForm('Amy', [amy[0]!.path, amy[1]!.path]));
  assert.equal(enrolled.status, 201, JSON.stringify(enrolled.body));
  assert.equal(enrolled.body.image_count, 2);
  amyId = enrolled.body.id;
  const target = await api('POST', '/api/v1/blacklist', enrolForm('Corpus target', []));
  assert.equal(target.status, 201);
  targetId = target.body.id;
  (globalThis as { corpusRoot?: string }).corpusRoot = root;
});

after(async () => {
  await app?.stop();
  await servers?.close();
  if (work) rmSync(work, { recursive: true, force: true });
});

/** What the server answered, as "<status> <code>" ("200", "201"; "200 added" / "200 rejected <code>" for uploads). */
async function answer(c: ApiCase): Promise<string> {
  try {
    const res = await fetch(`${app.baseUrl}${c.path}`, { method: c.method, headers: { ...headers, ...c.headers }, body: c.body, signal: AbortSignal.timeout(60_000) });
    const text = await res.text();
    let body: any;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      body = undefined;
    }
    if (res.status >= 400) return `${res.status} ${body?.code ?? 'no-code'}`;
    if (c.category.startsWith('upload ')) return body.added === 1 ? '200 added' : `200 rejected ${body.rejected?.[0]?.code ?? 'none'}`;
    return String(res.status);
  } catch (err) {
    return `no answer: ${(err as Error).message}${(err as { cause?: Error }).cause ? ` (${(err as { cause: Error }).cause.message})` : ''}`;
  }
}

/** Runs `cases` with `concurrency` at a time, in order of start. */
async function runAll<T, R>(items: readonly T[], concurrency: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (let i = next++; i < items.length; i = next++) results[i] = await work(items[i]!);
    }),
  );
  return results;
}

const tally = (outcomes: { category: string; outcome: string }[]): string => {
  const by = new Map<string, Map<string, number>>();
  for (const { category, outcome } of outcomes) {
    const m = by.get(category) ?? new Map<string, number>();
    m.set(outcome, (m.get(outcome) ?? 0) + 1);
    by.set(category, m);
  }
  return [...by]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([category, m]) => `  ${category} (${[...m.values()].reduce((a, b) => a + b, 0)}): ${[...m].map(([o, n]) => `${o} ×${n}`).join(', ')}`)
    .join('\n');
};

test('the malformed-input corpus through the API: every input gets its right 4xx, none a 5xx, and the server keeps answering', { timeout: 20 * 60_000 }, async () => {
  const root = (globalThis as { corpusRoot?: string }).corpusRoot!;
  const cases: ApiCase[] = [
    ...inlineImageCases(images),
    ...base64Cases(good.jpeg),
    ...jsonCases(),
    ...urlCases(servers.allowed, servers.forbidden),
    ...pathCases(root, good, identityImages()[0]!.path),
    ...multipartCases(targetId, good.jpeg, images),
  ];
  let sinceCheck = 0;
  let readyFailures = 0;
  const outcomes = await runAll(cases, 4, async (c) => {
    const outcome = await answer(c);
    if (++sinceCheck >= 100) {
      sinceCheck = 0;
      const ready = await fetch(`${app.baseUrl}/api/v1/ready`).catch(() => undefined);
      if (ready?.status !== 200) readyFailures++;
    }
    return { name: c.name, category: c.category, outcome, right: c.expect.includes(outcome) };
  });
  const wrong = outcomes.filter((o) => !o.right).map((o) => `${o.category} / ${o.name}: got ${o.outcome}, right: ${cases.find((c) => c.name === o.name)!.expect.join(' | ')}`);
  const serverErrors = outcomes.filter((o) => /^5\d\d/.test(o.outcome)).length;
  const noAnswer = outcomes.filter((o) => o.outcome.startsWith('no answer')).length;
  console.log(
    `API corpus: ${cases.length} cases; ${cases.length - wrong.length} right, ${wrong.length} wrong; 5xx: ${serverErrors}; no answer (crash, hang, reset): ${noAnswer}; readiness failures: ${readyFailures}`,
  );
  console.log(tally(outcomes));
  for (const w of wrong) console.log(`  wrong: ${w}`);
  assert.ok(cases.length >= 1000, `${cases.length} cases`);
  assert.equal(serverErrors, 0);
  assert.equal(noAnswer, 0);
  assert.equal(readyFailures, 0);
  assert.deepEqual(wrong, []);
});

test(
  'the malformed-input corpus through the inbox: every file ends in failed/ with its code (or done/ when it still decodes), nothing stays behind',
  { timeout: 10 * 60_000 },
  async () => {
    const inbox = app.dirs.inbox;
    const extension = (i: MalformedImage) => (i.format === 'none' ? '.jpg' : i.format === 'jpeg' ? '.jpg' : `.${i.format}`);
    // every second image, and every kind at least once; a name per image (the kind and format say what it is)
    // an empty file is an upload that never started: held like an incomplete one, then failed (IMAGE_EMPTY)
    const chosen = images.filter((image, i) => i % 2 === 0 || image.kind === 'bomb' || image.kind === 'huge' || image.kind === 'trailer-cut' || image.kind === 'empty');
    const files = chosen.map((image) => ({ image, name: `${image.name}${extension(image)}` }));
    for (const f of files) writeFileSync(join(inbox, f.name), f.image.bytes);
    const look = () => ({ done: new Set(readdirSync(join(inbox, 'done'))), failed: new Set(readdirSync(join(inbox, 'failed'))) });
    const isSettled = (seen: ReturnType<typeof look>, name: string) => seen.done.has(name) || (seen.failed.has(name) && seen.failed.has(`${name}.error.json`));
    // all settled, or a deadline: what is left is reported by name below
    await eventually(async () => (files.every((f) => isSettled(look(), f.name)) ? true : undefined), 'every inbox file done or failed', 240_000).catch(() => undefined);
    const settled = look();
    const outcomes = files.map((f) => {
      const outcome = !isSettled(settled, f.name)
        ? 'not settled'
        : settled.done.has(f.name)
          ? 'done'
          : `failed ${(JSON.parse(readFileSync(join(inbox, 'failed', `${f.name}.error.json`), 'utf8')) as { code: string }).code}`;
      // what the API answers with a status, the inbox records as a failure with the same code; a truncated file
      // (no end marker) is held as an incomplete upload and then failed as IMAGE_CORRUPT
      const right = [...expectedFor(f.image).map((e) => (e === '200' ? 'done' : `failed ${e.split(' ')[1]}`)), ...(f.image.kind === 'truncated' ? ['failed IMAGE_CORRUPT'] : [])];
      return { name: f.name, category: `inbox ${f.image.kind}`, outcome, right: right.includes(outcome), expected: right };
    });
    const left = readdirSync(inbox).filter((n) => !['done', 'failed', '.processing'].includes(n));
    const processing = readdirSync(join(inbox, '.processing'));
    const wrong = outcomes.filter((o) => !o.right).map((o) => `${o.name}: ${o.outcome}, right: ${o.expected.join(' | ')}`);
    console.log(
      `inbox corpus: ${files.length} files; ${files.length - wrong.length} right, ${wrong.length} wrong; left in the inbox: ${left.length}, in .processing: ${processing.length}`,
    );
    console.log(tally(outcomes));
    for (const w of wrong) console.log(`  wrong: ${w}`);
    assert.deepEqual(wrong, []);
    assert.deepEqual(left, []);
    assert.deepEqual(processing, []);
    assert.ok(
      outcomes.some((o) => o.category === 'inbox empty' && o.outcome === 'failed IMAGE_EMPTY'),
      'an empty file ends in failed/ (IMAGE_EMPTY)',
    );
    assert.ok(files.every((f) => extname(f.name) !== ''));
  },
);

test('after the corpus: the process still answers, a good image still matches, nothing was logged as an internal error', async () => {
  assert.equal((await fetch(`${app.baseUrl}/api/v1/ready`)).status, 200);
  const probe = identityImages().filter((i) => i.person === 'amy')[2]!.path;
  const res = await api('POST', '/api/v1/process/process-images', { images: [probe] });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  const face = res.body[0].faces[0];
  assert.equal(res.body[0].error, null);
  assert.deepEqual([face.decision, face.blacklist_matches[0]?.person_id, face.blacklist_matches[0]?.name], ['match', amyId, 'Amy']);
  const detect = await api('POST', '/api/v1/detect/detect-face', { image: good.jpeg.toString('base64') });
  assert.deepEqual([detect.status, detect.body.length], [200, 1]);
  const logged = app
    .output()
    .split('\n')
    .filter((line) => line.includes('"level":50') || line.includes('"level":60'));
  assert.deepEqual(logged, []);
});
