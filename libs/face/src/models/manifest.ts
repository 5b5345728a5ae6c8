import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AppError, ErrorCode, projectRoot } from '@facewatch/core';

export type ModelSource = { type: 'url'; url: string; repository?: string; revision?: string; path?: string } | { type: 'npm'; package: string; version: string; path: string };

export interface ModelEntry {
  name: string;
  file: string;
  task: string;
  description: string;
  sha256: string;
  bytes: number;
  licence: string;
  source: ModelSource;
}

export type ModelName = 'yunet_s' | 'fr_feature' | 'ultraface' | 'fr_landmark';

/** Where models/manifest.json lives: the project's models/ folder. */
export const manifestPath = (): string => join(projectRoot(), 'models', 'manifest.json');

let cached: ModelEntry[] | undefined;

/** Reads models/manifest.json once. */
export function loadManifest(path = manifestPath()): ModelEntry[] {
  if (cached && path === manifestPath()) return cached;
  const raw = JSON.parse(readFileSync(path, 'utf8')) as { models?: ModelEntry[] };
  if (!Array.isArray(raw.models)) throw new AppError(ErrorCode.MODEL_MISSING, `${path} has no "models" list`);
  if (path === manifestPath()) cached = raw.models;
  return raw.models;
}

export function modelEntry(name: ModelName, manifest = loadManifest()): ModelEntry {
  const entry = manifest.find((m) => m.name === name);
  if (!entry) throw new AppError(ErrorCode.MODEL_MISSING, `model "${name}" is not in models/manifest.json`);
  return entry;
}

/** A human-readable description of where a model comes from, for error messages. */
export function describeSource(source: ModelSource): string {
  return source.type === 'npm' ? `npm package ${source.package}@${source.version} (${source.path})` : source.url;
}
