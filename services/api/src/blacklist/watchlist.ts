import { randomUUID } from 'node:crypto';
import { AppError, ErrorCode, toAppError, type Logger } from '@facewatch/core';
import type { Person, ReferenceFace, Store, VectorIndex } from '@facewatch/db';
import type { AnalyseOptions, AnalyseResult } from '@facewatch/face';
import { BlacklistFolder, sha256 } from './blacklist-folder.js';
import { Mutex } from './mutex.js';

export interface FaceEmbedder {
  analyse(bytes: Uint8Array, options: AnalyseOptions): Promise<AnalyseResult>;
}

export interface Upload {
  fileName: string;
  bytes: Uint8Array;
}

export interface Rejection {
  filename: string;
  code: string;
  message: string;
}

export interface WatchlistDeps {
  store: Store;
  faces: FaceEmbedder;
  folder: BlacklistFolder;
  model: string;
  log: Logger;
}

/**
 * The watch-list use cases: enrol, add images, rename, delete, and keep the index in step with
 * blacklist_db/ edited by hand. Every change runs under one mutex, so an upload and the folder
 * watcher never index the same file twice.
 */
export class Watchlist {
  private readonly mutex = new Mutex();
  /** sha256 of hand-placed files that were rejected, so they are not retried on every change. */
  private readonly rejectedFiles = new Map<string, string>();

  constructor(private readonly deps: WatchlistDeps) {}

  private index(): Promise<VectorIndex> {
    return this.deps.store.vectorIndex(this.deps.model, 512);
  }

  createPerson(name: string, reason: string | null, uploads: Upload[]): Promise<{ person: Person; rejected: Rejection[] }> {
    return this.mutex.run(async () => {
      const folder = await this.deps.folder.newFolderName(name);
      const created = await this.deps.store.persons.create({ id: randomUUID(), name, reason, folder });
      const rejected = await this.addUploads(created, uploads);
      return { person: (await this.deps.store.persons.get(created.id))!, rejected };
    });
  }

  addImages(personId: string, uploads: Upload[]): Promise<{ person: Person; added: number; rejected: Rejection[] }> {
    return this.mutex.run(async () => {
      const person = await this.requirePerson(personId);
      const rejected = await this.addUploads(person, uploads);
      const after = (await this.deps.store.persons.get(personId))!;
      return { person: after, added: uploads.length - rejected.length, rejected };
    });
  }

  update(personId: string, changes: { name?: string; reason?: string | null }): Promise<Person> {
    return this.mutex.run(async () => {
      const updated = await this.deps.store.persons.update(personId, changes);
      if (!updated) throw notFound(personId);
      return updated;
    });
  }

  /** Removes the person's faces from the index, their records, and their folder. */
  delete(personId: string): Promise<void> {
    return this.mutex.run(async () => {
      const person = await this.requirePerson(personId);
      const { faceIds } = await this.deps.store.persons.delete(personId);
      await (await this.index()).remove(faceIds);
      await this.deps.folder.removeFolder(person.folder);
      this.deps.log.info({ personId, faces: faceIds.length }, 'person deleted');
    });
  }

  /**
   * Brings the database and index in line with blacklist_db/: new folders become persons (named
   * after the folder), deleted folders delete their person, new files are indexed, deleted files
   * un-indexed, replaced files re-indexed. `folders` limits the work to folders known to have changed.
   */
  reconcile(folders?: readonly string[]): Promise<{ added: number; removed: number; personsCreated: number; personsDeleted: number }> {
    return this.mutex.run(async () => {
      const stats = { added: 0, removed: 0, personsCreated: 0, personsDeleted: 0 };
      const onDisk = new Set(await this.deps.folder.folders());
      const { items: persons } = await this.deps.store.persons.list({ offset: 0, limit: 1_000_000 });
      const byFolder = new Map(persons.map((p) => [p.folder, p]));
      const index = await this.index();
      if (!folders) {
        // the index and the face rows are two writes: after a crash between them, re-add what is missing
        const faces = await this.deps.store.references.allFaces(this.deps.model);
        if ((await index.count()) < faces.length) await index.upsert(faces.map((f) => ({ id: f.id, vector: f.embedding })));
      }

      for (const person of persons) {
        if (folders && !folders.includes(person.folder)) continue;
        if (!onDisk.has(person.folder)) {
          const { faceIds } = await this.deps.store.persons.delete(person.id);
          await index.remove(faceIds);
          stats.personsDeleted++;
          this.deps.log.info({ personId: person.id, folder: person.folder }, 'folder removed by hand: person deleted');
        }
      }
      for (const folder of onDisk) {
        if (folders && !folders.includes(folder)) continue;
        let person = byFolder.get(folder);
        if (!person) {
          person = await this.deps.store.persons.create({ id: randomUUID(), name: folder, reason: null, folder });
          stats.personsCreated++;
          this.deps.log.info({ personId: person.id, folder }, 'folder added by hand: person created');
        }
        const files = new Set(await this.deps.folder.imageFiles(folder));
        const known = await this.deps.store.references.listImages(person.id);
        const knownByName = new Map(known.map((i) => [i.fileName, i]));
        for (const image of known) {
          const current = files.has(image.fileName) ? await this.deps.folder.readImage(folder, image.fileName) : undefined;
          if (current?.sha256 === image.sha256) continue;
          await index.remove(await this.deps.store.references.removeImage(image.id));
          knownByName.delete(image.fileName);
          stats.removed++;
        }
        for (const fileName of files) {
          if (knownByName.has(fileName)) continue;
          const file = await this.deps.folder.readImage(folder, fileName);
          if (!file || this.rejectedFiles.has(`${folder}/${fileName}:${file.sha256}`)) continue;
          const rejection = await this.indexImage(person, fileName, file.bytes, file.sha256);
          if (rejection) {
            this.rejectedFiles.set(`${folder}/${fileName}:${file.sha256}`, rejection.code);
            this.deps.log.warn({ folder, fileName, code: rejection.code }, `reference image not indexed: ${rejection.message}`);
          } else stats.added++;
        }
      }
      if (stats.added + stats.removed + stats.personsCreated + stats.personsDeleted > 0) this.deps.log.info(stats, 'watch-list synchronised with blacklist_db');
      return stats;
    });
  }

  private async requirePerson(personId: string): Promise<Person> {
    const person = await this.deps.store.persons.get(personId);
    if (!person) throw notFound(personId);
    return person;
  }

  private async addUploads(person: Person, uploads: Upload[]): Promise<Rejection[]> {
    const rejected: Rejection[] = [];
    for (const upload of uploads) {
      const analysis = await this.analyseReference(upload.bytes);
      if ('code' in analysis) {
        rejected.push({ filename: upload.fileName, code: analysis.code, message: analysis.message });
        continue;
      }
      const fileName = await this.deps.folder.writeImage(person.folder, upload.fileName, analysis.result.format, upload.bytes);
      await this.store(person, fileName, upload.bytes, sha256(upload.bytes), analysis.result);
    }
    return rejected;
  }

  private async indexImage(person: Person, fileName: string, bytes: Uint8Array, hash: string): Promise<Rejection | undefined> {
    const analysis = await this.analyseReference(bytes);
    if ('code' in analysis) return { filename: fileName, code: analysis.code, message: analysis.message };
    await this.store(person, fileName, bytes, hash, analysis.result);
    return undefined;
  }

  /** A reference image must show exactly one face. */
  private async analyseReference(bytes: Uint8Array): Promise<{ result: AnalyseResult } | { code: string; message: string }> {
    let result: AnalyseResult;
    try {
      result = await this.deps.faces.analyse(bytes, { embed: true });
    } catch (err) {
      const e = toAppError(err);
      if (e.retryable) throw e;
      return { code: e.code, message: e.message };
    }
    if (result.faces.length === 0) return { code: ErrorCode.NO_FACE, message: 'no face found in the image' };
    if (result.faces.length > 1) return { code: ErrorCode.MULTIPLE_FACES, message: `${result.faces.length} faces found; a reference image must show one person` };
    return { result };
  }

  private async store(person: Person, fileName: string, bytes: Uint8Array, hash: string, result: AnalyseResult): Promise<void> {
    const imageId = randomUUID();
    const face = result.faces[0]!;
    const ref: ReferenceFace = {
      id: randomUUID(),
      imageId,
      personId: person.id,
      model: this.deps.model,
      embedding: face.embedding!,
      norm: face.norm!,
      box: face.box,
    };
    await this.deps.store.references.addImage(
      { id: imageId, personId: person.id, fileName, sha256: hash, bytes: bytes.length, createdAt: new Date().toISOString() },
      [ref],
    );
    await (await this.index()).upsert([{ id: ref.id, vector: ref.embedding }]);
  }
}

function notFound(personId: string): AppError {
  return new AppError(ErrorCode.PERSON_NOT_FOUND, `no watch-list person with id ${personId}`, { details: { person_id: personId } });
}
