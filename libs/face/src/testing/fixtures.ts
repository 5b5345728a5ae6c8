import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { projectRoot } from '@facewatch/core';

/** The shared face fixtures, reached relative to the checkout: ../shared/fixtures/faces. */
export const fixturesDir = (): string => resolve(projectRoot(), '..', 'shared', 'fixtures', 'faces');

export interface IdentityImage {
  person: string;
  file: string;
  path: string;
}

export interface GroupPhoto {
  file: string;
  path: string;
  /** Clearly visible people, left to right by face centre. */
  faces: string[];
  minFaces: number;
  maxFaces: number;
}

/** identities/<person>/<file>: 8 people × 5 grey 150x150 crops. */
export function identityImages(): IdentityImage[] {
  const dir = join(fixturesDir(), 'identities');
  return readdirSync(dir)
    .sort()
    .flatMap((person) =>
      readdirSync(join(dir, person))
        .sort()
        .map((file) => ({ person, file, path: join(dir, person, file) })),
    );
}

export function groupPhotos(): GroupPhoto[] {
  const expected = JSON.parse(readFileSync(join(fixturesDir(), 'expected.json'), 'utf8')) as {
    groups: Record<string, { faces: string[]; min_faces: number; max_faces: number }>;
  };
  return Object.entries(expected.groups).map(([file, g]) => ({
    file,
    path: join(fixturesDir(), file),
    faces: g.faces,
    minFaces: g.min_faces,
    maxFaces: g.max_faces,
  }));
}

export function expressionImages(): string[] {
  const dir = join(fixturesDir(), 'expressions');
  return readdirSync(dir)
    .sort()
    .map((f) => join(dir, f));
}

export const noFaceImage = (): string => join(fixturesDir(), 'noface', 'white.png');

/**
 * Pairs the labelled people of a group photo with detected faces: the N largest faces (N = the
 * number of labelled people; extra detections are background faces), ordered left to right.
 */
export function labelFaces<F extends { box: { x: number; w: number; h: number } }>(faces: readonly F[], group: GroupPhoto): { person: string; face: F }[] {
  const largest = [...faces].sort((a, b) => b.box.w * b.box.h - a.box.w * a.box.h).slice(0, group.faces.length);
  largest.sort((a, b) => a.box.x + a.box.w / 2 - (b.box.x + b.box.w / 2));
  return largest.map((face, i) => ({ person: group.faces[i]!, face }));
}

/** The open-set fixtures (../shared/fixtures/open-set): people to enrol, group photos with strangers, strangers only. */
export const openSetDir = (): string => resolve(projectRoot(), '..', 'shared', 'fixtures', 'open-set');

/** A labelled face of an evaluation photo: a person's name, a stranger, or unsure (counted neither way). */
export type FaceLabel = { kind: 'known'; name: string } | { kind: 'stranger' } | { kind: 'unsure' };

export interface LabelledPhoto {
  /** Relative to ../shared/fixtures: faces/groups/bbt1.jpg, open-set/strangers/solvay1927.jpg… */
  file: string;
  path: string;
  /** Labels the detected faces (boxes in original pixels), in their order. */
  label(faces: readonly { box: { x: number; y: number; w: number; h: number } }[]): FaceLabel[];
}

/**
 * The photos an open-set evaluation searches, with their labels: the group photos of both sets
 * (known people among strangers) and the strangers-only photos. faces/: the labelled people are
 * the largest faces, left to right, others are strangers (as {@link labelFaces}); open-set/: a face
 * is a known person when its centre lies within half its width of the labelled x (expected.json).
 */
export function openSetPhotos(): LabelledPhoto[] {
  const photos: LabelledPhoto[] = groupPhotos().map((g) => ({
    file: `faces/${g.file}`,
    path: g.path,
    label: (faces) => {
      const known = new Map(labelFaces(faces, g).map(({ person, face }) => [face, person]));
      return faces.map((f) => (known.has(f) ? { kind: 'known', name: known.get(f)! } : { kind: 'stranger' }));
    },
  }));
  const expected = JSON.parse(readFileSync(join(openSetDir(), 'expected.json'), 'utf8')) as {
    groups: Record<string, { known: { name: string; x: number }[]; unsure?: { name: string; x: number }[] }>;
    strangers: string[];
  };
  for (const [file, g] of Object.entries(expected.groups)) {
    photos.push({
      file: `open-set/${file}`,
      path: join(openSetDir(), file),
      label: (faces) =>
        faces.map((f) => {
          const near = (x: number): boolean => Math.abs(f.box.x + f.box.w / 2 - x) <= f.box.w / 2;
          const known = g.known.find((k) => near(k.x));
          if (known) return { kind: 'known', name: known.name };
          return (g.unsure ?? []).some((u) => near(u.x)) ? { kind: 'unsure' } : { kind: 'stranger' };
        }),
    });
  }
  for (const file of expected.strangers) photos.push({ file: `open-set/${file}`, path: join(openSetDir(), file), label: (faces) => faces.map(() => ({ kind: 'stranger' })) });
  return photos;
}

/** The people to enrol for the open-set evaluation: faces/identities and open-set/identities, one folder per person. */
export function openSetPeople(): { person: string; files: string[] }[] {
  const out: { person: string; files: string[] }[] = [];
  for (const dir of [join(fixturesDir(), 'identities'), join(openSetDir(), 'identities')]) {
    for (const person of readdirSync(dir).sort())
      out.push({
        person,
        files: readdirSync(join(dir, person))
          .sort()
          .map((f) => join(dir, person, f)),
      });
  }
  return out;
}

/** The open-set identity photos that show one face (33 colour photos, 0.2–3.3 MP; biden2.jpg shows three): what the speed benchmarks send. */
export function openSetPortraits(): string[] {
  return openSetPeople()
    .flatMap((p) => p.files)
    .filter((f) => f.includes('/open-set/') && !f.endsWith('biden2.jpg'));
}
