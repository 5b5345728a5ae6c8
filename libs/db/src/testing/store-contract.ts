import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, test } from 'node:test';
import type { FaceRecord, MatchRecord, NewAlert, ProcessedImage, ReferenceFace, ReferenceImage, Store } from '../types.js';

/** Opens an empty store; `cleanup` closes it and removes what it created. */
export type MakeStore = () => Promise<{ store: Store; cleanup(): Promise<void> }>;

const t = (minute: number): string => new Date(Date.UTC(2024, 4, 1, 10, minute)).toISOString();

export function referenceImage(id: string, personId: string, fileName: string): ReferenceImage {
  return { id, personId, fileName, sha256: `sha-${id}`, bytes: 1000 + fileName.length, createdAt: t(0) };
}

export function referenceFace(id: string, image: ReferenceImage, model = 'fr_feature', seed = 1): ReferenceFace {
  // values chosen to need every bit of a float32 (a lossy round trip would show)
  const embedding = Float32Array.from({ length: 8 }, (_, i) => Math.fround(Math.sin(seed * 7.31 + i) * 1.37));
  return { id, imageId: image.id, personId: image.personId, model, embedding, norm: 1.25 + seed / 3, box: { x: 10 * seed, y: 20, w: 85, h: 106 } };
}

export function matchRecord(personId: string, name: string, distance: number): MatchRecord {
  return {
    person_id: personId,
    name,
    identity: `blacklist_db/${name.toLowerCase()}/1.jpg`,
    distance,
    threshold: 0.63,
    target_x: 93,
    target_y: 121,
    target_w: 85,
    target_h: 106,
    source_x: 4.5,
    source_y: 7,
    source_w: 140,
    source_h: 150,
  };
}

export function faceRecord(faceIndex: number, matches: MatchRecord[]): FaceRecord {
  return {
    face_index: faceIndex,
    facial_area: {
      x: 93 + faceIndex,
      y: 121,
      w: 85,
      h: 106,
      left_eye: [169, 161],
      right_eye: [140, 161],
      nose: [168, 182],
      mouth_left: [166, 200],
      mouth_right: [143, 200],
    },
    confidence: 0.9214 - faceIndex / 100,
    decision: matches.length > 0 ? 'match' : 'unknown',
    blacklist_matches: matches,
    decision_reason: matches.length > 0 ? 'match_threshold' : 'below_review_threshold',
    decision_detail: matches.length > 0 ? 'score 0.61 ≥ match threshold 0.449' : 'score 0.12 < review threshold 0.322',
    score: matches.length > 0 ? 0.61 : 0.12,
    match_confidence: matches.length > 0 ? 0.999998 : 0,
    thresholds: { match: 0.449, review: 0.322 },
    gates_failed: [],
    quality: { eye_distance_px: 31.5, sharpness: 0.21, yaw_deg: -4.2, pitch_deg: 7, edge_cut: 0 },
    candidates: matches.map((m) => ({ person_id: m.person_id, name: m.name, score: 0.61, distance: m.distance, identity: m.identity })),
  };
}

/** The alert of a face of `result`, with a recognisable embedding. */
export function newAlert(id: string, result: ProcessedImage, faceIndex: number, decision: 'match' | 'review', personId: string, name: string): NewAlert {
  const face = result.faces.find((f) => f.face_index === faceIndex)!;
  return {
    id,
    image_id: result.id,
    face_index: faceIndex,
    decision,
    person_id: personId,
    name,
    score: 0.61,
    match_confidence: 0.9999,
    distance: 0.3,
    threshold: 0.55,
    decision_reason: decision === 'match' ? 'match_threshold' : 'review_band',
    decision_detail: 'score 0.61 ≥ match threshold 0.449',
    identity: `blacklist_db/${name.toLowerCase()}/1.jpg`,
    reference_image_id: `img-${personId}`,
    reference_face_id: `face-${personId}`,
    facial_area: { x: face.facial_area.x, y: face.facial_area.y, w: face.facial_area.w, h: face.facial_area.h },
    identifier: result.image_path_or_identifier,
    processed_at: result.processed_at,
    model: 'fr_feature@2',
    embedding: Float32Array.from({ length: 8 }, (_, i) => Math.fround(Math.cos(faceIndex + i * 0.37))),
  };
}

/** A face in the review band: a plausible person, a failed gate, no alert. */
export function reviewFaceRecord(faceIndex: number): FaceRecord {
  return {
    ...faceRecord(faceIndex, []),
    decision: 'review',
    decision_reason: 'quality_gate',
    decision_detail: 'score 0.5 ≥ review threshold 0.322, but sharpness 0.01 < 0.025',
    score: 0.5,
    match_confidence: 0.98,
    gates_failed: [{ gate: 'sharpness', value: 0.01, limit: 0.025 }],
    quality: { eye_distance_px: 20.25, sharpness: 0.01, yaw_deg: 12.5, pitch_deg: -3, edge_cut: 0.125 },
    candidates: [{ person_id: 'p9', name: 'Zed', score: 0.5, distance: 0.41, identity: 'blacklist_db/zed/1.jpg' }],
  };
}

export function processedImage(id: string, processedAt: string, faces: FaceRecord[]): ProcessedImage {
  return {
    id,
    image_path_or_identifier: `inbox/${id}.jpg`,
    source: 'inbox',
    sha256: `sha-${id}`,
    stored_image_path: `processed_images_output/${id}.jpg`,
    width: 640,
    height: 480,
    model_name: 'fr_feature',
    detector_backend: 'yunet',
    distance_metric: 'cosine',
    faces,
    matched: faces.some((f) => f.decision === 'match'),
    error: null,
    processed_at: processedAt,
  };
}

const ids = (page: { items: { id: string }[] }): string[] => page.items.map((i) => i.id);

/**
 * The behaviour every Store implementation must show (persons, reference images and faces,
 * processed results, vector index instances), through the interfaces only.
 */
export function storeContract(name: string, makeStore: MakeStore): void {
  async function withStore(body: (store: Store) => Promise<void>): Promise<void> {
    const { store, cleanup } = await makeStore();
    try {
      await body(store);
    } finally {
      await cleanup();
    }
  }

  describe(`Store contract: ${name}`, () => {
    test('ping answers', async () => {
      await withStore(async (store) => {
        assert.equal(await store.ping(), undefined);
      });
    });

    test('persons: create, get, getByFolder, update', async () => {
      await withStore(async (store) => {
        const created = await store.persons.create({ id: 'p1', name: 'Alice', reason: 'shoplifting', folder: 'alice' });
        assert.equal(Number.isNaN(Date.parse(created.createdAt)), false);
        assert.deepEqual(created, { id: 'p1', name: 'Alice', reason: 'shoplifting', folder: 'alice', imageCount: 0, createdAt: created.createdAt, updatedAt: created.createdAt });
        assert.deepEqual(await store.persons.get('p1'), created);
        assert.deepEqual(await store.persons.getByFolder('alice'), created);
        assert.equal(await store.persons.get('nobody'), undefined);
        assert.equal(await store.persons.getByFolder('nobody'), undefined);

        const renamed = await store.persons.update('p1', { name: 'Alice B.' });
        assert.deepEqual({ ...renamed, updatedAt: undefined }, { ...created, name: 'Alice B.', updatedAt: undefined });
        assert.ok(renamed !== undefined && renamed.updatedAt >= created.updatedAt);
        const cleared = await store.persons.update('p1', { reason: null });
        assert.deepEqual({ name: cleared?.name, reason: cleared?.reason }, { name: 'Alice B.', reason: null });
        assert.deepEqual(await store.persons.get('p1'), cleared);
        assert.equal(await store.persons.update('nobody', { name: 'X' }), undefined);
      });
    });

    test('persons: a duplicate id or folder is INVALID_ARGUMENT', async () => {
      await withStore(async (store) => {
        await store.persons.create({ id: 'p1', name: 'Alice', reason: null, folder: 'alice' });
        await assert.rejects(store.persons.create({ id: 'p1', name: 'Other', reason: null, folder: 'other' }), { name: 'AppError', code: 'INVALID_ARGUMENT' });
        await assert.rejects(store.persons.create({ id: 'p2', name: 'Other', reason: null, folder: 'alice' }), { name: 'AppError', code: 'INVALID_ARGUMENT' });
        assert.equal((await store.persons.list()).total, 1);
      });
    });

    test('persons: list is oldest first then by name, with total and pagination', async () => {
      await withStore(async (store) => {
        await store.persons.create({ id: 'z', name: 'Zoe', reason: null, folder: 'zoe' });
        await sleep(5); // a later created_at than Zoe's
        await store.persons.create({ id: 'a', name: 'Adam', reason: null, folder: 'adam' });
        await store.persons.create({ id: 'b', name: 'Bea', reason: null, folder: 'bea' });
        const all = await store.persons.list();
        assert.deepEqual({ total: all.total, ids: ids(all) }, { total: 3, ids: ['z', 'a', 'b'] });
        const page = await store.persons.list({ offset: 1, limit: 1 });
        assert.deepEqual({ total: page.total, ids: ids(page) }, { total: 3, ids: ['a'] });
        const past = await store.persons.list({ offset: 5, limit: 10 });
        assert.deepEqual({ total: past.total, ids: ids(past) }, { total: 3, ids: [] });
        await assert.rejects(store.persons.list({ offset: -1 }), { name: 'AppError', code: 'INVALID_ARGUMENT' });
      });
    });

    test('references: imageCount counts images; listImages and removeImage', async () => {
      await withStore(async (store) => {
        await store.persons.create({ id: 'p1', name: 'Alice', reason: null, folder: 'alice' });
        const img1 = referenceImage('i1', 'p1', '1.jpg');
        const img2 = { ...referenceImage('i2', 'p1', '2.jpg'), createdAt: t(1) };
        await store.references.addImage(img1, [referenceFace('f1', img1)]);
        await store.references.addImage(img2, [referenceFace('f2', img2, 'fr_feature', 2), referenceFace('f3', img2, 'fr_feature', 3)]);
        assert.equal((await store.persons.get('p1'))?.imageCount, 2);
        assert.deepEqual(
          (await store.persons.list()).items.map((p) => p.imageCount),
          [2],
        );
        assert.deepEqual(await store.references.listImages('p1'), [img1, img2]);
        assert.deepEqual(await store.references.listImages('nobody'), []);

        assert.deepEqual((await store.references.removeImage('i2')).sort(), ['f2', 'f3']);
        assert.deepEqual(await store.references.removeImage('i2'), []);
        assert.deepEqual(await store.references.listImages('p1'), [img1]);
        assert.equal((await store.persons.get('p1'))?.imageCount, 1);
        assert.deepEqual(await store.references.facesByIds(['f2', 'f3']), []);
      });
    });

    test('references: faces round-trip (embedding bytes, norm, box, model), by id and by model', async () => {
      await withStore(async (store) => {
        await store.persons.create({ id: 'p1', name: 'Alice', reason: null, folder: 'alice' });
        const img = referenceImage('i1', 'p1', '1.jpg');
        const f1 = referenceFace('f1', img, 'fr_feature', 1);
        const f2 = referenceFace('f2', img, 'fr_feature', 2);
        const other = referenceFace('f3', img, 'other_model', 3);
        await store.references.addImage(img, [f1, f2, other]);

        const [b, a, c] = await store.references.facesByIds(['f2', 'missing', 'f1', 'f3', 'f2']);
        assert.deepEqual([b, a, c], [f2, f1, other]);
        assert.ok(a !== undefined && a.embedding instanceof Float32Array);
        assert.deepEqual(Buffer.from(a.embedding.buffer, a.embedding.byteOffset, a.embedding.byteLength), Buffer.from(f1.embedding.buffer));
        assert.equal(a.norm, f1.norm);
        assert.deepEqual(a.box, { x: 10, y: 20, w: 85, h: 106 });
        assert.deepEqual(await store.references.facesByIds([]), []);

        assert.deepEqual(
          (await store.references.allFaces('fr_feature')).sort((x, y) => x.id.localeCompare(y.id)),
          [f1, f2],
        );
        assert.deepEqual(await store.references.allFaces('other_model'), [other]);
        assert.deepEqual(await store.references.allFaces('no_model'), []);
      });
    });

    test('references: faces of some people, of one model', async () => {
      await withStore(async (store) => {
        for (const id of ['p1', 'p2', 'p3']) await store.persons.create({ id, name: id, reason: null, folder: id });
        const img1 = referenceImage('i1', 'p1', '1.jpg');
        const img2 = referenceImage('i2', 'p2', '1.jpg');
        const img3 = referenceImage('i3', 'p3', '1.jpg');
        const a = referenceFace('fa', { ...img1 }, 'fr_feature', 1);
        const b = referenceFace('fb', img1, 'fr_feature', 2);
        const c = referenceFace('fc', img2, 'fr_feature', 3);
        await store.references.addImage(img1, [a, b, referenceFace('fx', img1, 'other_model', 4)]);
        await store.references.addImage(img2, [c]);
        await store.references.addImage(img3, [referenceFace('fd', img3, 'fr_feature', 5)]);
        const byId = (faces: { id: string }[]) => faces.map((f) => f.id).sort();
        assert.deepEqual(byId(await store.references.facesOfPersons(['p1', 'p2', 'nobody'], 'fr_feature')), ['fa', 'fb', 'fc']);
        assert.deepEqual(await store.references.facesOfPersons(['p2'], 'fr_feature'), [c]);
        assert.deepEqual(byId(await store.references.facesOfPersons(['p1'], 'other_model')), ['fx']);
        assert.deepEqual(await store.references.facesOfPersons([], 'fr_feature'), []);
      });
    });

    test('references: addImage of an unknown person is PERSON_NOT_FOUND; a failed addImage stores nothing', async () => {
      await withStore(async (store) => {
        const orphan = referenceImage('i0', 'nobody', '1.jpg');
        await assert.rejects(store.references.addImage(orphan, [referenceFace('f0', orphan)]), { name: 'AppError', code: 'PERSON_NOT_FOUND' });

        await store.persons.create({ id: 'p1', name: 'Alice', reason: null, folder: 'alice' });
        const img = referenceImage('i1', 'p1', '1.jpg');
        // the second face reuses the first one's id: the whole image must be refused
        await assert.rejects(store.references.addImage(img, [referenceFace('f1', img), referenceFace('f1', img, 'fr_feature', 2)]), {
          name: 'AppError',
          code: 'INVALID_ARGUMENT',
        });
        assert.deepEqual(await store.references.listImages('p1'), []);
        assert.deepEqual(await store.references.facesByIds(['f1']), []);
        assert.equal((await store.persons.get('p1'))?.imageCount, 0);

        await store.references.addImage(img, [referenceFace('f1', img)]);
        await assert.rejects(store.references.addImage({ ...img, id: 'i2' }, []), { name: 'AppError', code: 'INVALID_ARGUMENT' }, 'same file name twice');
        assert.equal((await store.persons.get('p1'))?.imageCount, 1);
      });
    });

    test('persons: delete cascades to images and faces and returns the removed face ids', async () => {
      await withStore(async (store) => {
        await store.persons.create({ id: 'p1', name: 'Alice', reason: null, folder: 'alice' });
        await store.persons.create({ id: 'p2', name: 'Bob', reason: null, folder: 'bob' });
        const a1 = referenceImage('a1', 'p1', '1.jpg');
        const a2 = referenceImage('a2', 'p1', '2.jpg');
        const b1 = referenceImage('b1', 'p2', '1.jpg');
        await store.references.addImage(a1, [referenceFace('fa1', a1)]);
        await store.references.addImage(a2, [referenceFace('fa2', a2, 'fr_feature', 2), referenceFace('fa3', a2, 'fr_feature', 3)]);
        await store.references.addImage(b1, [referenceFace('fb1', b1, 'fr_feature', 4)]);

        const result = await store.persons.delete('p1');
        assert.deepEqual({ deleted: result.deleted, faceIds: [...result.faceIds].sort() }, { deleted: true, faceIds: ['fa1', 'fa2', 'fa3'] });
        assert.equal(await store.persons.get('p1'), undefined);
        assert.deepEqual(await store.references.listImages('p1'), []);
        assert.deepEqual(await store.references.facesByIds(['fa1', 'fa2', 'fa3']), []);
        assert.deepEqual(
          (await store.references.allFaces('fr_feature')).map((f) => f.id),
          ['fb1'],
        );
        assert.deepEqual(ids(await store.persons.list()), ['p2']);
        assert.equal((await store.persons.get('p2'))?.imageCount, 1);
        assert.deepEqual(await store.persons.delete('p1'), { deleted: false, faceIds: [] });
      });
    });

    test('processed: save then get returns the same result, faces by face_index and matches by rank', async () => {
      await withStore(async (store) => {
        const face0 = faceRecord(0, [matchRecord('p1', 'Alice', 0.21), matchRecord('p2', 'Bob', 0.4)]);
        const face1 = faceRecord(1, []);
        const face2 = reviewFaceRecord(2);
        const result = processedImage('r1', t(5), [face1, face2, face0]);
        await store.processed.save(result);
        assert.deepEqual(await store.processed.get('r1'), { ...result, faces: [face0, face1, face2] });

        const failed: ProcessedImage = {
          ...processedImage('r2', t(6), []),
          sha256: null,
          stored_image_path: null,
          width: null,
          height: null,
          error: { code: 'IMAGE_CORRUPT', message: 'not a JPEG' },
        };
        await store.processed.save(failed);
        assert.deepEqual(await store.processed.get('r2'), failed);
        assert.equal(await store.processed.get('missing'), undefined);
      });
    });

    test('processed: list is newest first then by id, with total_items and pagination', async () => {
      await withStore(async (store) => {
        for (const [id, minute] of [
          ['old', 1],
          ['b', 9],
          ['mid', 5],
          ['a', 9],
        ] as const) {
          await store.processed.save(processedImage(id, t(minute), [faceRecord(0, [])]));
        }
        const all = await store.processed.list({});
        assert.deepEqual({ total: all.total_items, ids: ids(all) }, { total: 4, ids: ['a', 'b', 'mid', 'old'] });
        assert.deepEqual(all.items[2], processedImage('mid', t(5), [faceRecord(0, [])]));
        const page = await store.processed.list({ offset: 1, limit: 2 });
        assert.deepEqual({ total: page.total_items, ids: ids(page) }, { total: 4, ids: ['b', 'mid'] });
        const past = await store.processed.list({ offset: 10, limit: 2 });
        assert.deepEqual({ total: past.total_items, ids: ids(past) }, { total: 4, ids: [] });
        await assert.rejects(store.processed.list({ limit: -1 }), { name: 'AppError', code: 'INVALID_ARGUMENT' });
      });
    });

    test('processed: list filters by matched, personId and since, and counts the filtered rows', async () => {
      await withStore(async (store) => {
        await store.processed.save(processedImage('r1', t(1), [faceRecord(0, [matchRecord('p1', 'Alice', 0.2)])]));
        await store.processed.save(processedImage('r2', t(2), [faceRecord(0, [])]));
        // p1 matches two faces of r3: r3 must still be listed once
        await store.processed.save(
          processedImage('r3', t(3), [faceRecord(0, [matchRecord('p2', 'Bob', 0.3), matchRecord('p1', 'Alice', 0.5)]), faceRecord(1, [matchRecord('p1', 'Alice', 0.25)])]),
        );
        await store.processed.save(processedImage('r4', t(4), [faceRecord(0, [matchRecord('p2', 'Bob', 0.1)])]));

        const check = async (query: Parameters<Store['processed']['list']>[0], total: number, expected: string[]): Promise<void> => {
          const page = await store.processed.list(query);
          assert.deepEqual({ total: page.total_items, ids: ids(page) }, { total, ids: expected }, JSON.stringify(query));
        };
        await check({ matched: true }, 3, ['r4', 'r3', 'r1']);
        await check({ matched: false }, 1, ['r2']);
        await check({ personId: 'p1' }, 2, ['r3', 'r1']);
        await check({ personId: 'p2' }, 2, ['r4', 'r3']);
        await check({ personId: 'nobody' }, 0, []);
        await check({ since: t(3) }, 2, ['r4', 'r3']);
        await check({ since: '2024-05-01T12:02:00+02:00' }, 3, ['r4', 'r3', 'r2']);
        await check({ since: t(2), matched: true }, 2, ['r4', 'r3']);
        await check({ since: t(2), personId: 'p1', matched: true }, 1, ['r3']);
        await check({ personId: 'p1', limit: 1 }, 2, ['r3']);
        await check({ personId: 'p1', offset: 1, limit: 1 }, 2, ['r1']);
        await assert.rejects(store.processed.list({ since: 'yesterday' }), { name: 'AppError', code: 'INVALID_ARGUMENT' });
      });
    });

    test('processed: saving the same id again replaces the row, its faces and its matches', async () => {
      await withStore(async (store) => {
        const first = processedImage('r1', t(1), [faceRecord(0, [matchRecord('p1', 'Alice', 0.2)]), faceRecord(1, [matchRecord('p2', 'Bob', 0.3)])]);
        await store.processed.save(first);
        await store.processed.save(first); // redelivered
        assert.deepEqual(await store.processed.get('r1'), first);
        assert.equal((await store.processed.list({})).total_items, 1);

        const second = { ...processedImage('r1', t(7), [faceRecord(0, [matchRecord('p3', 'Cleo', 0.15)])]), source: 'kafka' };
        await store.processed.save(second);
        assert.deepEqual(await store.processed.get('r1'), second);
        const all = await store.processed.list({});
        assert.deepEqual({ total: all.total_items, items: all.items }, { total: 1, items: [second] });
        assert.equal((await store.processed.list({ personId: 'p1' })).total_items, 0);
        assert.equal((await store.processed.list({ personId: 'p2' })).total_items, 0);
        assert.equal((await store.processed.list({ personId: 'p3' })).total_items, 1);
      });
    });

    test('deleting a person keeps the matches of past results', async () => {
      await withStore(async (store) => {
        await store.persons.create({ id: 'p1', name: 'Alice', reason: null, folder: 'alice' });
        const img = referenceImage('i1', 'p1', '1.jpg');
        await store.references.addImage(img, [referenceFace('f1', img)]);
        const alert = processedImage('r1', t(1), [faceRecord(0, [matchRecord('p1', 'Alice', 0.2)])]);
        await store.processed.save(alert);
        assert.equal((await store.persons.delete('p1')).deleted, true);
        assert.deepEqual(await store.processed.get('r1'), alert);
        assert.deepEqual(ids(await store.processed.list({ personId: 'p1' })), ['r1']);
      });
    });

    test('alerts and evidence are saved with their result; seq, filters, review feedback and rejected embeddings', async () => {
      await withStore(async (store) => {
        const r1 = processedImage('r1', t(1), [faceRecord(0, [matchRecord('p1', 'Alice', 0.2)]), reviewFaceRecord(1)]);
        const a1 = newAlert('a1', r1, 0, 'match', 'p1', 'Alice');
        const a2 = newAlert('a2', r1, 1, 'review', 'p9', 'Zed');
        const evidence = [
          { face_index: 0, kind: 'aligned' as const, content_type: 'image/jpeg', bytes: Uint8Array.from([0xff, 0xd8, 1, 2, 3]) },
          { face_index: 0, kind: 'context' as const, content_type: 'image/jpeg', bytes: Uint8Array.from([0xff, 0xd8, 9]) },
        ];
        const saved = await store.processed.save(r1, { alerts: [a1, a2], evidence });
        assert.deepEqual(
          saved.alerts.map((a) => [a.id, a.face_index, a.decision, a.review_status]),
          [
            ['a1', 0, 'match', 'pending'],
            ['a2', 1, 'review', 'pending'],
          ],
        );
        const [s1, s2] = saved.alerts;
        assert.ok(s1!.seq > 0 && s2!.seq > s1!.seq);
        const { embedding: _e, model: _m, ...fields } = a1;
        assert.deepEqual(await store.alerts.get('a1'), { ...fields, seq: s1!.seq, review_status: 'pending', review_note: null, reviewed_at: null, reviewed_by: null });
        assert.equal(await store.alerts.get('missing'), undefined);
        assert.deepEqual((await store.evidence.get('r1', 0, 'aligned'))?.bytes, evidence[0]!.bytes);
        assert.equal((await store.evidence.get('r1', 0, 'context'))?.content_type, 'image/jpeg');
        assert.equal(await store.evidence.get('r1', 1, 'aligned'), undefined);

        const r2 = processedImage('r2', t(2), [faceRecord(0, [matchRecord('p2', 'Bob', 0.3)])]);
        await store.processed.save(r2, { alerts: [newAlert('a3', r2, 0, 'match', 'p2', 'Bob')] });
        assert.deepEqual(ids(await store.alerts.list({})), ['a3', 'a2', 'a1'], 'newest first');
        assert.deepEqual(ids(await store.alerts.list({ decision: 'match' })), ['a3', 'a1']);
        assert.deepEqual(ids(await store.alerts.list({ personId: 'p1' })), ['a1']);
        assert.deepEqual(ids(await store.alerts.list({ since: t(2) })), ['a3']);
        const page = await store.alerts.list({ offset: 1, limit: 1 });
        assert.deepEqual([page.total_items, ids(page)], [3, ['a2']]);
        assert.deepEqual(
          (await store.alerts.after(s1!.seq, 10)).map((a) => a.id),
          ['a2', 'a3'],
        );
        assert.deepEqual(
          (await store.alerts.after(0, 1)).map((a) => a.id),
          ['a1'],
        );
        assert.equal(await store.alerts.lastSeq(), (await store.alerts.get('a3'))!.seq);
        assert.deepEqual(
          (await store.alerts.ofImage('r1')).map((a) => a.id),
          ['a1', 'a2'],
        );

        const reviewed = await store.alerts.review('a1', { status: 'rejected', note: 'not her', by: 'desk', at: t(3) });
        assert.deepEqual([reviewed?.review_status, reviewed?.review_note, reviewed?.reviewed_by, reviewed?.reviewed_at], ['rejected', 'not her', 'desk', t(3)]);
        assert.equal(await store.alerts.review('missing', { status: 'confirmed', note: null, by: null, at: t(3) }), undefined);
        assert.deepEqual(ids(await store.alerts.list({ reviewStatus: 'rejected' })), ['a1']);
        assert.deepEqual(ids(await store.alerts.list({ reviewStatus: 'pending' })), ['a3', 'a2']);
        const rejected = await store.alerts.rejectedEmbeddings('fr_feature@2');
        assert.equal(rejected.length, 1);
        assert.deepEqual(Array.from(rejected[0]!), Array.from(a1.embedding!));
        assert.deepEqual(await store.alerts.rejectedEmbeddings('other'), []);

        // a redelivered result keeps seq and review; a face no longer alerted loses its alert; evidence is replaced
        const again = await store.processed.save(r1, { alerts: [{ ...a1, score: 0.7 }], evidence: evidence.slice(1) });
        assert.deepEqual(
          again.alerts.map((a) => [a.id, a.seq, a.score, a.review_status]),
          [['a1', s1!.seq, 0.7, 'rejected']],
        );
        assert.equal(await store.alerts.get('a2'), undefined);
        assert.equal(await store.evidence.get('r1', 0, 'aligned'), undefined);
        assert.ok(await store.evidence.get('r1', 0, 'context'));
        // a result saved without extras keeps no alerts
        assert.deepEqual((await store.processed.save(r2)).alerts, []);
        assert.equal(await store.alerts.get('a3'), undefined);
      });
    });

    test('webhooks: create, list, update, delete; a new alert queues one delivery per webhook that takes it, once', async () => {
      await withStore(async (store) => {
        const all = await store.webhooks.create(
          { id: 'w1', url: 'https://hooks.example/a', secret: 's1', description: 'desk', filters: { decisions: [], person_ids: [] }, enabled: true },
          t(0),
        );
        assert.deepEqual(await store.webhooks.get('w1'), all);
        await store.webhooks.create(
          { id: 'w2', url: 'https://hooks.example/b', secret: 's2', description: null, filters: { decisions: ['match'], person_ids: ['p2'] }, enabled: true },
          t(0),
        );
        await store.webhooks.create(
          { id: 'w3', url: 'https://hooks.example/c', secret: 's3', description: null, filters: { decisions: [], person_ids: [] }, enabled: false },
          t(0),
        );
        assert.deepEqual(
          (await store.webhooks.list()).map((w) => w.id),
          ['w1', 'w2', 'w3'],
        );
        const updated = await store.webhooks.update('w1', { description: 'front desk', filters: { decisions: ['match', 'review'], person_ids: [] } }, t(1));
        assert.deepEqual([updated?.description, updated?.updated_at, updated?.secret], ['front desk', t(1), 's1']);
        assert.equal(await store.webhooks.update('missing', { enabled: false }, t(1)), undefined);

        const r1 = processedImage('r1', t(2), [faceRecord(0, [matchRecord('p1', 'Alice', 0.2)]), faceRecord(1, [matchRecord('p2', 'Bob', 0.2)]), reviewFaceRecord(2)]);
        const alerts = [newAlert('a1', r1, 0, 'match', 'p1', 'Alice'), newAlert('a2', r1, 1, 'match', 'p2', 'Bob'), newAlert('a3', r1, 2, 'review', 'p9', 'Zed')];
        await store.processed.save(r1, { alerts });
        await store.processed.save(r1, { alerts }); // redelivered: no second delivery
        const w1 = await store.deliveries.list('w1', {});
        assert.deepEqual(w1.items.map((d) => d.alert_id).sort(), ['a1', 'a2', 'a3']);
        assert.deepEqual(
          (await store.deliveries.list('w2', {})).items.map((d) => d.alert_id),
          ['a2'],
          'only Bob, only matches',
        );
        assert.equal((await store.deliveries.list('w3', {})).total_items, 0, 'a disabled webhook gets nothing');
        assert.ok(w1.items.every((d) => d.status === 'pending' && d.attempts === 0 && d.last_error === null));
        assert.equal(await store.deliveries.countPending(), 4);

        // claim leases: a second dispatcher finds nothing until the lease runs out
        const now = new Date();
        const claimed = await store.deliveries.claim(now, 30_000, 10);
        assert.equal(claimed.length, 4);
        assert.deepEqual(await store.deliveries.claim(now, 30_000, 10), []);
        const first = claimed[0]!;
        await store.deliveries.retry(first.id, new Date(now.getTime() + 60_000), 'HTTP 503', 503);
        await store.deliveries.delivered(claimed[1]!.id, now, 200);
        await store.deliveries.failed(claimed[2]!.id, now, 'HTTP 410', 410);
        // the fourth's lease runs out: due again
        const later = await store.deliveries.claim(new Date(now.getTime() + 31_000), 30_000, 10);
        assert.deepEqual(
          later.map((d) => d.id),
          [claimed[3]!.id],
        );
        await store.deliveries.delivered(claimed[3]!.id, now, 204);
        const retried = await store.deliveries.claim(new Date(now.getTime() + 61_000 + 30_000), 30_000, 10);
        assert.deepEqual(
          retried.map((d) => [d.id, d.attempts, d.last_error, d.last_status]),
          [[first.id, 1, 'HTTP 503', 503]],
        );
        const byStatus = async (status: 'pending' | 'delivered' | 'failed') =>
          (await store.deliveries.list('w1', { status })).total_items + (await store.deliveries.list('w2', { status })).total_items;
        assert.deepEqual([await byStatus('pending'), await byStatus('delivered'), await byStatus('failed')], [1, 2, 1]);
        assert.equal(await store.deliveries.countPending(), 1);
        const gaveUp = (await store.deliveries.list(claimed[2]!.webhook_id, { status: 'failed' })).items[0]!;
        assert.deepEqual([gaveUp.id, gaveUp.attempts, gaveUp.last_error, gaveUp.last_status], [claimed[2]!.id, 1, 'HTTP 410', 410]);
        assert.equal(await store.webhooks.delete('w1'), true);
        assert.equal(await store.webhooks.delete('w1'), false);
        assert.equal((await store.deliveries.list('w1', {})).total_items, 0, 'deleted with the webhook');
      });
    });

    test('retention: purge removes old results with their faces, matches and evidence, and returns their copies; alerts by their own cut', async () => {
      await withStore(async (store) => {
        const old = processedImage('old', t(1), [faceRecord(0, [matchRecord('p1', 'Alice', 0.2)])]);
        const recent = processedImage('recent', t(30), [faceRecord(0, [matchRecord('p1', 'Alice', 0.2)])]);
        const crop = [{ face_index: 0, kind: 'aligned' as const, content_type: 'image/jpeg', bytes: Uint8Array.from([1, 2]) }];
        await store.processed.save(old, { alerts: [newAlert('a-old', old, 0, 'match', 'p1', 'Alice')], evidence: crop });
        await store.processed.save(recent, { alerts: [newAlert('a-recent', recent, 0, 'match', 'p1', 'Alice')], evidence: crop });
        assert.deepEqual(await store.processed.purge(t(10)), { results: 1, copies: ['processed_images_output/old.jpg'] });
        assert.equal(await store.processed.get('old'), undefined);
        assert.equal(await store.evidence.get('old', 0, 'aligned'), undefined);
        assert.deepEqual(ids(await store.processed.list({ personId: 'p1' })), ['recent']);
        assert.ok(await store.alerts.get('a-old'), 'alerts outlive their result');
        assert.equal(await store.alerts.purge(t(10)), 1);
        assert.equal(await store.alerts.get('a-old'), undefined);
        assert.ok(await store.alerts.get('a-recent'));
        assert.deepEqual(await store.processed.purge(t(10)), { results: 0, copies: [] });
      });
    });

    test('erasure: a person is removed from stored matches, candidates, alerts and evidence; others are untouched', async () => {
      await withStore(async (store) => {
        const face0 = faceRecord(0, [matchRecord('p1', 'Alice', 0.2), matchRecord('p2', 'Bob', 0.4)]);
        const face1 = faceRecord(1, [matchRecord('p2', 'Bob', 0.3)]);
        const r = processedImage('r1', t(1), [face0, face1]);
        const crops = [0, 1].map((i) => ({ face_index: i, kind: 'aligned' as const, content_type: 'image/jpeg', bytes: Uint8Array.from([i]) }));
        await store.processed.save(r, { alerts: [newAlert('a-alice', r, 0, 'match', 'p1', 'Alice'), newAlert('a-bob', r, 1, 'match', 'p2', 'Bob')], evidence: crops });
        assert.deepEqual(await store.processed.erasePerson('p1'), { matches: 1, alerts: 1, evidence: 1, faces: 1 });
        const after = (await store.processed.get('r1'))!;
        const text = JSON.stringify(after);
        assert.ok(!text.includes('p1') && !text.includes('Alice') && !text.includes('alice'), text);
        assert.deepEqual(
          after.faces[0]!.blacklist_matches.map((m) => [m.person_id, m.name]),
          [
            ['erased', '[erased]'],
            ['p2', 'Bob'],
          ],
        );
        assert.equal(after.faces[0]!.candidates[0]!.person_id, 'erased');
        assert.equal(await store.alerts.get('a-alice'), undefined);
        assert.equal((await store.alerts.list({ personId: 'p1' })).total_items, 0);
        assert.ok(await store.alerts.get('a-bob'));
        assert.equal(await store.evidence.get('r1', 0, 'aligned'), undefined, "the crop of Alice's face");
        assert.ok(await store.evidence.get('r1', 1, 'aligned'));
        assert.deepEqual(ids(await store.processed.list({ personId: 'p1' })), []);
        assert.deepEqual(ids(await store.processed.list({ personId: 'p2' })), ['r1']);
        assert.deepEqual(await store.processed.erasePerson('p1'), { matches: 0, alerts: 0, evidence: 0, faces: 0 });
      });
    });

    test('audit: append and list newest first, with filters', async () => {
      await withStore(async (store) => {
        const a = await store.audit.append({
          at: t(1),
          actor: 'desk',
          source: '10.0.0.5',
          action: 'person.create',
          target_type: 'person',
          target_id: 'p1',
          details: { images: 3 },
        });
        await store.audit.append({ at: t(2), actor: null, source: 'cli', action: 'watchlist.export', target_type: null, target_id: null, details: null });
        await store.audit.append({ at: t(3), actor: 'desk', source: '10.0.0.5', action: 'person.delete', target_type: 'person', target_id: 'p1', details: null });
        assert.ok(a.seq > 0);
        const all = await store.audit.list({});
        assert.deepEqual(
          all.items.map((e) => e.action),
          ['person.delete', 'watchlist.export', 'person.create'],
        );
        assert.deepEqual(all.items[2], a);
        assert.deepEqual(
          (await store.audit.list({ targetId: 'p1' })).items.map((e) => e.action),
          ['person.delete', 'person.create'],
        );
        assert.deepEqual(
          (await store.audit.list({ actor: 'desk', since: t(2) })).items.map((e) => e.action),
          ['person.delete'],
        );
        assert.deepEqual((await store.audit.list({ action: 'watchlist.export' })).total_items, 1);
        const page = await store.audit.list({ offset: 1, limit: 1 });
        assert.deepEqual([page.total_items, page.items[0]!.action], [3, 'watchlist.export']);
      });
    });

    test('vectorIndex: one instance per model; a model keeps its dimension', async () => {
      await withStore(async (store) => {
        const a = await store.vectorIndex('model-a', 4);
        assert.equal(await store.vectorIndex('model-a', 4), a);
        const b = await store.vectorIndex('model-b', 8);
        assert.notEqual(b, a);
        assert.deepEqual([a.model, a.dimensions, b.model, b.dimensions], ['model-a', 4, 'model-b', 8]);
        await assert.rejects(store.vectorIndex('model-a', 8), { name: 'AppError', code: 'INVALID_ARGUMENT' });
      });
    });
  });
}
