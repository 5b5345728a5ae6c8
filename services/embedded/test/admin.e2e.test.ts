import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import { projectRoot } from '@facewatch/core';
import { fixturesDir, groupPhotos, openSetDir } from '@facewatch/face/testing';
import { eventually, startEmbeddedProcess, type RunningProfile } from './launch.js';

// The operators' tools as an operator uses them: the `facewatch` command (as a pipe with --json,
// and on a real terminal through `script`) against `npm start`'s process; replay checked against
// decisions worked out by hand from the stored distances; erasure and retention checked by reading
// the folders and every table of the SQLite file afterwards.

const bin = resolve(projectRoot(), 'services/cli/bin/facewatch.js');
const run = promisify(execFile);
let app: RunningProfile;
const scratch = mkdtempSync(join(tmpdir(), 'facewatch-admin-'));

async function facewatch(...args: string[]): Promise<{ code: number; json: any; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [bin, ...args, '--url', app.baseUrl], { cwd: projectRoot(), maxBuffer: 64 * 1024 * 1024 });
    return { code: 0, json: args.includes('--json') ? JSON.parse(stdout) : undefined, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, json: args.includes('--json') && e.stdout.trim() ? JSON.parse(e.stdout) : undefined, stdout: e.stdout, stderr: e.stderr };
  }
}

async function api(method: string, path: string, body?: unknown): Promise<any> {
  const res = await fetch(`${app.baseUrl}/api/v1${path}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return text ? JSON.parse(text) : undefined;
}

/** Every row of every table of the SQLite store (read while the server runs: WAL readers do not block it). */
function tables(): Record<string, unknown[]> {
  const db = new Database(join(app.dirs.data, 'facewatch.db'), { readonly: true });
  try {
    const names = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'").pluck().all() as string[];
    return Object.fromEntries(names.map((n) => [n, db.prepare(`SELECT * FROM "${n}"`).all()]));
  } finally {
    db.close();
  }
}

describe('facewatch admin commands against npm start', { timeout: 600_000 }, () => {
  let startedAt: string;
  const results: any[] = [];

  before(async () => {
    app = await startEmbeddedProcess();
    startedAt = new Date().toISOString();
  });
  after(async () => {
    assert.equal(await app.stop(), 0);
    rmSync(scratch, { recursive: true, force: true });
  });

  test('enrol --json: a folder of person folders; every photo is accepted', async () => {
    const { code, json } = await facewatch('enrol', join(fixturesDir(), 'identities'), '--json');
    assert.equal(code, 0);
    assert.deepEqual(
      json.people.map((p: any) => [p.person, p.added, p.rejected.length]),
      ['amy', 'bernadette', 'howard', 'leonard', 'penny', 'raj', 'sheldon', 'stuart'].map((p) => [p, 5, 0]),
    );
  });

  test('enrol on a terminal: a progress bar, and each refused photo with its reason (exit code 1)', async () => {
    const command = [process.execPath, bin, 'enrol', join(openSetDir(), 'identities'), '--url', app.baseUrl].map((a) => `'${a}'`).join(' ');
    const outcome = await run('script', ['-qefc', command, '/dev/null'], { cwd: projectRoot() }).then(
      (r) => ({ code: 0, out: r.stdout }),
      (e: { code: number; stdout: string }) => ({ code: e.code, out: e.stdout }),
    );
    assert.equal(outcome.code, 1, outcome.out);
    assert.match(outcome.out, /\r\x1b\[2Kenrol \[#+-*\] \d+\/34/);
    assert.match(outcome.out, /enrol: 34\/34 in \d+:\d\d — 9 people, 33 photos enrolled, 1 refused/);
    assert.match(outcome.out, /refused biden\/biden2\.jpg: MULTIPLE_FACES/);
  });

  test('people list / show / rename', async () => {
    const list = await facewatch('people', 'list', '--json');
    assert.equal(list.json.length, 17);
    const stuart = list.json.find((p: any) => p.name === 'stuart');
    const renamed = await facewatch('people', 'rename', stuart.id, 'Stuart', 'Bloom', '--json');
    assert.equal(renamed.json.name, 'Stuart Bloom');
    const shown = await facewatch('people', 'show', stuart.id);
    assert.match(shown.stdout, /^Stuart Bloom\n {2}id /);
    assert.equal((await facewatch('people', 'show', 'nobody')).code, 2);
  });

  test('replay --threshold reports exactly the decisions the nearest distances give; --apply stores them', async () => {
    for (const g of groupPhotos()) {
      const [r] = await api('POST', '/process/process-images', { images: [readFileSync(g.path).toString('base64')] });
      results.push(r);
    }
    // by hand: under a distance threshold t, a face is a match when its nearest reference is within
    // t, a review when it is but a gate failed, and unknown otherwise
    const expected = (t: number) =>
      results.flatMap((r) =>
        r.faces.flatMap((f: any) => {
          const nearest = Math.min(...f.candidates.map((c: any) => c.distance));
          const to = nearest <= t ? (f.gates_failed.length > 0 ? 'review' : 'match') : 'unknown';
          return to === f.decision ? [] : [`${r.id}#${f.face_index} ${f.decision}→${to}`];
        }),
      );
    for (const t of ['0.35', '0.6', '2']) {
      const { code, json } = await facewatch('replay', '--since', startedAt, '--threshold', t, '--json');
      assert.equal(code, 0);
      assert.equal(json.results, 5);
      assert.equal(json.applied, false);
      const reported = json.changed.map((c: any) => `${c.image_id}#${c.face_index} ${c.from.decision}→${c.to.decision}`);
      assert.deepEqual(reported.sort(), expected(Number(t)).sort(), `threshold ${t}`);
    }
    assert.ok(expected(0.35).length > 0 && expected(2).length > 0, 'both thresholds change something');
    // a stricter false-alert rate turns alerts into review-band faces and nothing into an alert
    const strict = await facewatch('replay', '--since', startedAt, '--match-rate', '0.0000001', '--json');
    assert.ok(strict.json.changed.length > 0);
    assert.ok(strict.json.changed.every((c: any) => c.from.decision === 'match' && c.to.decision === 'review'));

    const applied = await facewatch('replay', '--since', startedAt, '--threshold', '0.35', '--apply', '--json');
    assert.equal(applied.json.applied, true);
    for (const change of applied.json.changed) {
      const stored = await api('GET', `/processed-images/${change.image_id}`);
      const face = stored.faces.find((f: any) => f.face_index === change.face_index);
      assert.equal(face.decision, change.to.decision);
      assert.equal(face.decision_reason, 'distance_threshold');
      const alerts = (await api('GET', `/alerts?limit=200`)).items.filter((a: any) => a.image_id === change.image_id && a.face_index === change.face_index);
      assert.equal(alerts.length, change.to.decision === 'unknown' ? 0 : 1);
    }
    assert.deepEqual((await facewatch('replay', '--since', startedAt, '--threshold', '0.35', '--json')).json.changed, [], 'applied: nothing left to change');
  });

  test('export writes a versioned archive; reindex --all embeds every reference again', async () => {
    const file = join(scratch, 'watchlist.ndjson');
    const { code, json } = await facewatch('export', file, '--json');
    assert.equal(code, 0);
    assert.deepEqual([json.people, json.images], [17, 73]);
    const lines = readFileSync(file, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    assert.equal(lines[0].format, 'facewatch.watchlist/1');
    assert.equal(lines[0].model, 'fr_feature@2');
    assert.ok(lines[0].decision_params.impostor_tail);
    assert.deepEqual(lines.at(-1), { end: true, people: 17, images: 73 });
    assert.ok(lines[1].images[0].faces[0].embedding.length > 2000, 'embeddings travel with their model');
    const re = await facewatch('reindex', '--all', '--json');
    assert.equal(re.code, 0);
    assert.equal(re.json.reindexed, 73);
    assert.equal(
      (await api('GET', '/blacklist?limit=100')).items.reduce((n: number, p: any) => n + p.image_count, 0),
      73,
    );
  });

  test('vector-index: the embedded profile searches exactly; a rebuild is refused with exit code 2 and a stable code', async () => {
    const shown = await facewatch('vector-index', '--json');
    assert.equal(shown.code, 0);
    assert.deepEqual(shown.json, { model: 'fr_feature@2', vectors: 73, kind: 'exact', build: null, configured: null, ef_search: null });
    const human = await facewatch('vector-index');
    assert.match(human.stdout, /^fr_feature@2: 73 vectors, searched exactly/);
    const refused = await facewatch('vector-index', 'rebuild', '--json');
    assert.equal(refused.code, 2);
    assert.equal(refused.json.error.code, 'UNSUPPORTED_BY_BACKEND');
    const bad = await facewatch('vector-index', 'rebuild', '--m', 'many');
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--m must be an integer from 2 to 100/);
  });

  test('audit: who did what, from the CLI and the API', async () => {
    const { json } = await facewatch('audit', '--limit', '500', '--json');
    const actions = json.items.map((e: any) => e.action);
    for (const a of ['person.create', 'reference.add', 'person.update', 'image.search', 'results.replay', 'watchlist.export', 'watchlist.reindex'])
      assert.ok(actions.includes(a), a);
    assert.ok(json.items.every((e: any) => e.source && e.at));
    const creates = await facewatch('audit', '--action', 'person.create', '--json');
    assert.equal(creates.json.total_items, 17);
  });

  test('erasure: after people delete, no file, row or vector of the person is left', async () => {
    const people = (await facewatch('people', 'list', '--json')).json;
    const sheldon = people.find((p: any) => p.name === 'sheldon');
    const before = tables();
    const faceIds = (before['reference_faces'] as any[]).filter((f) => f.person_id === sheldon.id).map((f) => f.id);
    assert.equal(faceIds.length, 5);
    assert.ok(
      (before['alerts'] as any[]).some((a) => a.person_id === sheldon.id),
      'sheldon was alerted',
    );
    const evidenceBefore = (before['face_evidence'] as any[]).length;
    assert.equal((await facewatch('people', 'delete', sheldon.id)).code, 0);

    assert.ok(!existsSync(join(app.dirs.blacklist, 'sheldon')), 'the folder and its photos are gone');
    const after = tables();
    const mentions = Object.entries(after).flatMap(([table, rows]) =>
      table === 'audit_log' ? [] : rows.filter((row) => JSON.stringify(row).includes(sheldon.id) || JSON.stringify(row).includes('"sheldon"')).map(() => table),
    );
    assert.deepEqual(mentions, [], 'no row names sheldon');
    const vectors = (after['vector_entries'] as any[]).map((v) => v.id);
    assert.deepEqual(
      faceIds.filter((id: string) => vectors.includes(id)),
      [],
      'no vector of his is left',
    );
    assert.equal(vectors.length, (after['reference_faces'] as any[]).length);
    assert.ok((after['face_evidence'] as any[]).length < evidenceBefore, 'the crops of faces matched to him are gone');
    const audit = (after['audit_log'] as any[]).filter((e) => e.target_id === sheldon.id).map((e) => e.action);
    assert.deepEqual([...new Set(audit)].sort(), ['person.create', 'person.delete', 'reference.add'], 'the audit log keeps that it happened (enrol sends one photo per request)');
  });

  test('purge: results, crops, copies and alerts older than the cut are gone, rows and files', async () => {
    const copies = readdirSync(app.dirs.processed).length;
    assert.ok(copies > 0);
    const { code, json } = await facewatch('purge', '--older-than', '0.000001', '--alerts-older-than', '0.000001', '--json');
    assert.equal(code, 0);
    assert.equal(json.results, 5);
    assert.equal(json.copies_removed, 5);
    assert.ok(json.alerts > 0);
    assert.deepEqual(readdirSync(app.dirs.processed), []);
    const t = tables();
    for (const table of ['processed_images', 'processed_faces', 'face_matches', 'face_evidence', 'alerts']) assert.deepEqual(t[table], [], table);
    assert.equal((t['audit_log'] as any[]).filter((e) => e.action === 'retention.purge').length, 1);
  });
});

test('the scheduled retention purge deletes old results and their copies, as the service', { timeout: 300_000 }, async () => {
  const service = await startEmbeddedProcess({ RETENTION_DAYS: '0.000002', ALERT_RETENTION_DAYS: '0.000002', RETENTION_INTERVAL_MS: '200' });
  try {
    const g = groupPhotos()[0]!;
    await fetch(`${service.baseUrl}/api/v1/process/process-images`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ images: [readFileSync(g.path).toString('base64')] }),
    });
    await eventually(async () => {
      const page = (await (await fetch(`${service.baseUrl}/api/v1/processed-images`)).json()) as { total_items: number };
      return page.total_items === 0 && readdirSync(service.dirs.processed).length === 0 ? true : undefined;
    }, 'the result and its copy purged');
    const audit = (await (await fetch(`${service.baseUrl}/api/v1/audit?action=retention.purge`)).json()) as { items: { actor: string; details: { results: number } }[] };
    assert.ok(audit.items.some((e) => e.actor === 'service' && e.details.results === 1));
  } finally {
    assert.equal(await service.stop(), 0);
  }
});
