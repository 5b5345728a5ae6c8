import type { CandidateRecord, DecisionDetails } from './types.js';

/** What stands in for an erased person in stored matches and candidates. */
export const ERASED = { person_id: 'erased', name: '[erased]', identity: '[erased]' } as const;

/** The decision details with the person's candidate entries marked erased; undefined when they did not name them. */
export function eraseFromDetails(details: DecisionDetails, personId: string): DecisionDetails | undefined {
  if (!details.candidates.some((c) => c.person_id === personId)) return undefined;
  return {
    ...details,
    candidates: details.candidates.map((c): CandidateRecord => (c.person_id === personId ? { ...c, ...ERASED, reference_image_id: null, reference_face_id: null } : c)),
  };
}
