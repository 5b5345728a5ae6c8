import type { DistanceMetric } from '@facewatch/core';
import type { MatchRecord, Store, VectorIndex } from '@facewatch/db';
import { distance } from '@facewatch/face';

export interface WatchlistQuery {
  embedding: Float32Array;
  norm: number;
  box: { x: number; y: number; w: number; h: number };
  metric: DistanceMetric;
  maxDistance: number;
  /** Persons to report at most. */
  limit: number;
}

export interface WatchlistDeps {
  index: VectorIndex;
  store: Pick<Store, 'persons' | 'references'>;
}

/**
 * Finds the watch-list persons within `maxDistance` of one face, best first, one entry per person
 * (their closest reference image). The index searches by cosine; `euclidean_l2` is the same order
 * (sqrt(2·cos)), and raw `euclidean` is re-ranked over a wider candidate set with the stored norms.
 */
export async function searchWatchlist(deps: WatchlistDeps, q: WatchlistQuery): Promise<MatchRecord[]> {
  const candidates = q.limit * 8;
  const cosineCut = q.metric === 'cosine' ? q.maxDistance : q.metric === 'euclidean_l2' ? (q.maxDistance * q.maxDistance) / 2 : undefined;
  const hits = await deps.index.search(q.embedding, candidates, cosineCut === undefined ? {} : { maxDistance: cosineCut + 1e-6 });
  if (hits.length === 0) return [];
  const faces = await deps.store.references.facesByIds(hits.map((h) => h.id));
  const best = new Map<string, { d: number; face: (typeof faces)[number] }>();
  for (const face of faces) {
    const d = distance(q.metric, { embedding: q.embedding, norm: q.norm }, face);
    if (d > q.maxDistance) continue;
    const current = best.get(face.personId);
    if (!current || d < current.d) best.set(face.personId, { d, face });
  }
  const ranked = [...best.values()].sort((a, b) => a.d - b.d).slice(0, q.limit);
  const out: MatchRecord[] = [];
  for (const { d, face } of ranked) {
    const person = await deps.store.persons.get(face.personId);
    const file = person && (await deps.store.references.listImages(person.id)).find((i) => i.id === face.imageId)?.fileName;
    if (!person || !file) continue; // deleted meanwhile
    out.push({
      person_id: face.personId,
      name: person.name,
      identity: `blacklist_db/${person.folder}/${file}`,
      distance: Number(d.toFixed(6)),
      threshold: q.maxDistance,
      target_x: Math.round(face.box.x),
      target_y: Math.round(face.box.y),
      target_w: Math.round(face.box.w),
      target_h: Math.round(face.box.h),
      source_x: Math.round(q.box.x),
      source_y: Math.round(q.box.y),
      source_w: Math.round(q.box.w),
      source_h: Math.round(q.box.h),
    });
  }
  return out;
}
