import type { MatchRecord, Store } from '@facewatch/db';
import type { SearchedFace } from '@facewatch/recognition';

/**
 * Turns a searched face's candidates (reference-face ids and distances, from whichever backend)
 * into the API's matches: one entry per person (their closest reference image), best first, at
 * most `limit`, named from the store. Faces deleted meanwhile are skipped.
 */
export async function nameMatches(
  store: Pick<Store, 'persons' | 'references'>,
  face: SearchedFace,
  options: { maxDistance: number; limit: number },
): Promise<MatchRecord[]> {
  if (face.candidates.length === 0) return [];
  const references = new Map((await store.references.facesByIds(face.candidates.map((c) => c.faceId))).map((f) => [f.id, f]));
  const best = new Map<string, { distance: number; reference: NonNullable<ReturnType<typeof references.get>> }>();
  for (const candidate of face.candidates) {
    const reference = references.get(candidate.faceId);
    if (!reference || candidate.distance > options.maxDistance) continue;
    const current = best.get(reference.personId);
    if (!current || candidate.distance < current.distance) best.set(reference.personId, { distance: candidate.distance, reference });
  }
  const ranked = [...best.values()].sort((a, b) => a.distance - b.distance).slice(0, options.limit);
  const source = face.facial_area;
  const out: MatchRecord[] = [];
  for (const { distance, reference } of ranked) {
    const person = await store.persons.get(reference.personId);
    const file = person && (await store.references.listImages(person.id)).find((i) => i.id === reference.imageId)?.fileName;
    if (!person || !file) continue; // deleted meanwhile
    out.push({
      person_id: person.id,
      name: person.name,
      identity: `blacklist_db/${person.folder}/${file}`,
      distance: Number(distance.toFixed(6)),
      threshold: options.maxDistance,
      target_x: Math.round(reference.box.x),
      target_y: Math.round(reference.box.y),
      target_w: Math.round(reference.box.w),
      target_h: Math.round(reference.box.h),
      source_x: source.x,
      source_y: source.y,
      source_w: source.w,
      source_h: source.h,
    });
  }
  return out;
}
