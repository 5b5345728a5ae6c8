import { randomUUID } from 'node:crypto';
import { AppError, ErrorCode } from '@facewatch/core';
import type { ReferenceFace } from '@facewatch/db';
import type { DecisionParams } from '@facewatch/recognition';

/**
 * The watch-list archive (`facewatch export` / `import`, GET /api/v1/admin/export, POST
 * /api/v1/admin/import): newline-delimited JSON, one header line, one line per person with their
 * reference images (bytes) and faces (embeddings with their model), and an end line that makes a
 * truncated file detectable. docs/admin.md documents it.
 */
export const ARCHIVE_FORMAT = 'facewatch.watchlist/1';

export interface ArchiveHeader {
  format: typeof ARCHIVE_FORMAT;
  exported_at: string;
  /** Reference-embedding key of the faces (reference_faces.model). */
  model: string;
  backend: string;
  /** The decision parameters in use when exported (informational: DECISION_PARAMS_FILE sets them). */
  decision_params: DecisionParams | null;
  people: number;
}

export interface ArchiveFace {
  id: string;
  model: string;
  /** float32 little-endian, base64. */
  embedding: string;
  norm: number;
  box: { x: number; y: number; w: number; h: number };
}

export interface ArchiveImage {
  id: string;
  file_name: string;
  sha256: string;
  created_at: string;
  /** The image file, base64. */
  bytes: string;
  faces: ArchiveFace[];
}

export interface ArchivePerson {
  person: { id: string; name: string; reason: string | null; folder: string; created_at: string };
  images: ArchiveImage[];
}

export interface ArchiveEnd {
  end: true;
  people: number;
  images: number;
}

export function encodeFace(f: ReferenceFace): ArchiveFace {
  return { id: f.id, model: f.model, embedding: Buffer.from(f.embedding.buffer, f.embedding.byteOffset, f.embedding.byteLength).toString('base64'), norm: f.norm, box: f.box };
}

export function decodeFace(f: ArchiveFace, imageId: string, personId: string): ReferenceFace {
  const bytes = Buffer.from(f.embedding, 'base64');
  if (bytes.length % 4 !== 0) throw new AppError(ErrorCode.INVALID_ARGUMENT, `face ${f.id}: the embedding is not float32 values`);
  const embedding = new Float32Array(bytes.length / 4);
  new Uint8Array(embedding.buffer).set(bytes);
  return { id: randomUUID(), imageId, personId, model: f.model, embedding, norm: f.norm, box: f.box };
}

/** Parses and checks one archive line. */
export function parseLine(line: string, index: number): ArchiveHeader | ArchivePerson | ArchiveEnd {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    throw new AppError(ErrorCode.INVALID_ARGUMENT, `archive line ${index + 1} is not JSON`);
  }
  const v = value as Record<string, unknown>;
  if (index === 0) {
    if (v['format'] !== ARCHIVE_FORMAT)
      throw new AppError(ErrorCode.INVALID_ARGUMENT, `not a facewatch archive of format ${ARCHIVE_FORMAT} (line 1 says ${JSON.stringify(v['format'])})`);
    return v as unknown as ArchiveHeader;
  }
  if (v['end'] === true) return v as unknown as ArchiveEnd;
  const person = v['person'] as ArchivePerson['person'] | undefined;
  if (!person || typeof person.id !== 'string' || typeof person.name !== 'string' || !Array.isArray(v['images'])) {
    throw new AppError(ErrorCode.INVALID_ARGUMENT, `archive line ${index + 1} is not a person`);
  }
  return v as unknown as ArchivePerson;
}
