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
