import { randomUUID } from 'node:crypto';
import { AppError, ErrorCode, type Logger } from '@facewatch/core';
import type { ErasureReport, Person, ReferenceImage, Store } from '@facewatch/db';
import type { FaceBackend } from '@facewatch/recognition';
import { BlacklistFolder, sha256 } from './blacklist-folder.js';
import { decodeFace, encodeFace, type ArchivePerson } from '../admin/watchlist-archive.js';
import { Mutex } from './mutex.js';

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
  /** Indexes reference faces: local vectors, or a Rekognition collection with the images in S3. */
  backend: FaceBackend;
  folder: BlacklistFolder;
  log: Logger;
}

/**
 * The watch-list use cases: enrol, add images, rename, delete, and keep the index in step with
 * blacklist_db/ edited by hand. Every change runs under one mutex, so an upload and the folder
 * watcher never index the same file twice.
 *
 * With the local backend blacklist_db/ holds the reference images and is the truth: a file
 * removed by hand is un-indexed. With a backend that keeps the images itself (Rekognition + S3),
 * blacklist_db/<person>/ is a drop folder: a file placed there is enrolled, then removed locally
 * once S3 holds it; the person's (empty) folder stays and still stands for the person.
 */
export class Watchlist {
  private readonly mutex = new Mutex();
  /** sha256 of hand-placed files that were rejected, so they are not retried on every change. */
  private readonly rejectedFiles = new Map<string, string>();

  constructor(private readonly deps: WatchlistDeps) {}

  private get keepsFiles(): boolean {
    return this.deps.backend.referenceStorage === 'folder';
  }

  createPerson(name: string, reason: string | null, uploads: Upload[]): Promise<{ person: Person; rejected: Rejection[] }> {
    return this.mutex.run(async () => {
      const folder = await this.deps.folder.newFolderName(name);
      const created = await this.deps.store.persons.create({ id: randomUUID(), name, reason, folder });
      let rejected: Rejection[];
      try {
        rejected = await this.addUploads(created, uploads);
      } catch (err) {
        // the backend or the store failed (not the images): undo, so that a retry does not make a second person
        await this.deletePerson(created).catch((e: unknown) => this.deps.log.error({ err: e, personId: created.id }, 'could not undo a failed enrolment'));
        await this.deps.folder.removeFolder(folder);
        throw err;
      }
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

  /**
   * Removes the person's records, their faces from the index (and objects from S3), and their
   * folder, and erases them from stored results. Returns what was removed.
   */
  delete(personId: string): Promise<Record<string, number>> {
    return this.mutex.run(async () => {
      const person = await this.requirePerson(personId);
      const { faces, erased } = await this.deletePerson(person);
      await this.deps.folder.removeFolder(person.folder);
      const report = { reference_faces: faces, matches: erased.matches, alerts: erased.alerts, evidence: erased.evidence, candidate_faces: erased.faces };
      this.deps.log.info({ personId, ...report }, 'person deleted and erased');
      return report;
    });
  }

  /**
   * Brings the database and index in line with blacklist_db/: new folders become persons (named
   * after the folder), deleted folders delete their person, new files are indexed, replaced files
   * re-indexed; deleted files are un-indexed when blacklist_db/ holds the images. `folders` limits
   * the work to folders known to have changed.
   */
  reconcile(folders?: readonly string[]): Promise<{ added: number; removed: number; personsCreated: number; personsDeleted: number }> {
    return this.mutex.run(async () => {
      const stats = { added: 0, removed: 0, personsCreated: 0, personsDeleted: 0 };
      const onDisk = new Set(await this.deps.folder.folders());
      const { items: persons } = await this.deps.store.persons.list({ offset: 0, limit: 1_000_000 });
      const byFolder = new Map(persons.map((p) => [p.folder, p]));
      // images enrolled under another backend or embedding revision (FACE_PROCESSING_BACKEND changed,
      // or an upgrade changed what feeds the embedder: reference_faces.model differs; at start: the
      // full reconcile) are enrolled again from their file; never taken for already uploaded, so
      // no local file is removed unenrolled
      let enrolled: Set<string> | undefined;
      if (!folders) {
        const faces = await this.deps.store.references.allFaces(this.deps.backend.referenceModel);
        enrolled = new Set(faces.map((f) => f.imageId));
        // the store and the index are two writes: after a crash between them, repair the index
        const repaired = await this.deps.backend.reconcile(faces);
        if (repaired.added + repaired.removed > 0) this.deps.log.info(repaired, 'face index repaired from the store');
      }

      for (const person of persons) {
        if (folders && !folders.includes(person.folder)) continue;
        if (!onDisk.has(person.folder)) {
          await this.deletePerson(person);
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
          if (enrolled && !enrolled.has(image.id)) {
            await this.deps.store.references.removeImage(image.id);
            knownByName.delete(image.fileName);
            this.deps.log.warn(
              { folder, fileName: image.fileName },
              `reference image was enrolled under another backend or embedding revision; ${files.has(image.fileName) ? 'enrolling it again' : 'its file is not here, so it is dropped'}`,
            );
            continue;
          }
          // with images kept elsewhere (S3), a file missing locally is the normal state
          if (!files.has(image.fileName) && !this.keepsFiles) continue;
          const current = files.has(image.fileName) ? await this.deps.folder.readImage(folder, image.fileName) : undefined;
          if (current?.sha256 === image.sha256) {
            // uploaded before a crash could remove the local copy
            if (!this.keepsFiles) await this.deps.folder.removeImage(folder, image.fileName);
            continue;
          }
          await this.removeImage(person, image);
          knownByName.delete(image.fileName);
          stats.removed++;
        }
        for (const fileName of files) {
          if (knownByName.has(fileName)) continue;
          const file = await this.deps.folder.readImage(folder, fileName);
          if (!file || this.rejectedFiles.has(`${folder}/${fileName}:${file.sha256}`)) continue;
          const rejection = await this.enrol(person, fileName, file.bytes, file.sha256);
          if (rejection) {
            this.rejectedFiles.set(`${folder}/${fileName}:${file.sha256}`, rejection.code);
            this.deps.log.warn({ folder, fileName, code: rejection.code }, `reference image not indexed: ${rejection.message}`);
          } else {
            stats.added++;
            if (!this.keepsFiles) await this.deps.folder.removeImage(folder, fileName);
          }
        }
      }
      if (stats.added + stats.removed + stats.personsCreated + stats.personsDeleted > 0) this.deps.log.info(stats, 'watch-list synchronised with blacklist_db');
      return stats;
    });
  }

  /**
   * A reference image's bytes and the box of its face (for evidence): from blacklist_db/, or from
   * the backend's object store. Undefined when the person, image or file is gone.
   */
  async readReference(
    personId: string,
    imageId: string,
  ): Promise<{ bytes: Uint8Array; fileName: string; box: { x: number; y: number; w: number; h: number } | undefined } | undefined> {
    const person = await this.deps.store.persons.get(personId);
    const image = person && (await this.deps.store.references.listImages(person.id)).find((i) => i.id === imageId);
    if (!person || !image) return undefined;
    const bytes = this.keepsFiles
      ? (await this.deps.folder.readImage(person.folder, image.fileName))?.bytes
      : await this.deps.backend.readReference?.(`${person.folder}/${image.fileName}`);
    if (!bytes) return undefined;
    const face = (await this.deps.store.references.facesOfPersons([person.id], this.deps.backend.referenceModel)).find((f) => f.imageId === image.id);
    return { bytes, fileName: image.fileName, box: face?.box };
  }

  /** One person as an archive line: their record, reference images (bytes) and faces (embeddings). Undefined when gone. */
  async exportPerson(person: Person): Promise<ArchivePerson> {
    const faces = await this.deps.store.references.facesOfPersons([person.id], this.deps.backend.referenceModel);
    const images: ArchivePerson['images'] = [];
    for (const image of await this.deps.store.references.listImages(person.id)) {
      const bytes = this.keepsFiles
        ? (await this.deps.folder.readImage(person.folder, image.fileName))?.bytes
        : await this.deps.backend.readReference?.(`${person.folder}/${image.fileName}`);
      if (!bytes) {
        this.deps.log.warn({ personId: person.id, fileName: image.fileName }, 'reference image missing: left out of the export');
        continue;
      }
      images.push({
        id: image.id,
        file_name: image.fileName,
        sha256: image.sha256,
        created_at: image.createdAt,
        bytes: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64'),
        faces: faces.filter((f) => f.imageId === image.id).map(encodeFace),
      });
    }
    return { person: { id: person.id, name: person.name, reason: person.reason, folder: person.folder, created_at: person.createdAt }, images };
  }

  /**
   * Imports one archived person under their id. An existing person is skipped, or with
   * `replace` loses their reference images first. Embeddings of this deployment's model are
   * stored as they are (no inference); another model's are refused unless `reEmbed`, which
   * enrols the image again through the backend.
   */
  importPerson(
    record: ArchivePerson,
    options: { onConflict: 'skip' | 'replace'; reEmbed: boolean },
  ): Promise<{ status: 'imported' | 'replaced' | 'skipped'; images: number; rejected: Rejection[] }> {
    return this.mutex.run(async () => {
      const existing = await this.deps.store.persons.get(record.person.id);
      if (existing && options.onConflict === 'skip') return { status: 'skipped' as const, images: 0, rejected: [] };
      let person: Person;
      if (existing) {
        for (const image of await this.deps.store.references.listImages(existing.id)) {
          await this.removeImage(existing, image);
          if (this.keepsFiles) await this.deps.folder.removeImage(existing.folder, image.fileName);
        }
        person = (await this.deps.store.persons.update(existing.id, { name: record.person.name, reason: record.person.reason }))!;
      } else {
        const folder = await this.deps.folder.newFolderName(record.person.folder || record.person.name);
        person = await this.deps.store.persons.create({ id: record.person.id, name: record.person.name, reason: record.person.reason, folder });
      }
      const rejected: Rejection[] = [];
      const taken = new Set<string>();
      let images = 0;
      for (const image of record.images) {
        const bytes = new Uint8Array(Buffer.from(image.bytes, 'base64'));
        const fileName = await this.deps.folder.chooseFileName(person.folder, image.file_name, bytes, taken);
        const sameModel = this.deps.backend.kind === 'local' && image.faces.length > 0 && image.faces.every((f) => f.model === this.deps.backend.referenceModel);
        if (sameModel) {
          const imageId = randomUUID();
          const faces = image.faces.map((f) => decodeFace(f, imageId, person.id));
          if (this.keepsFiles) await this.deps.folder.writeImage(person.folder, fileName, bytes);
          await this.deps.store.references.addImage(
            { id: imageId, personId: person.id, fileName, sha256: sha256(bytes), bytes: bytes.length, createdAt: new Date().toISOString() },
            faces,
          );
          await this.deps.backend.commitReference(faces);
        } else if (options.reEmbed) {
          const rejection = await this.enrol(person, fileName, bytes, sha256(bytes), true);
          if (rejection) {
            rejected.push({ ...rejection, filename: image.file_name });
            continue;
          }
        } else {
          const models = [...new Set(image.faces.map((f) => f.model))].join(', ') || 'no embeddings';
          rejected.push({
            filename: image.file_name,
            code: ErrorCode.INVALID_ARGUMENT,
            message: `embedded with ${models}; this deployment uses ${this.deps.backend.referenceModel}: import with re-embedding (--re-embed)`,
          });
          continue;
        }
        taken.add(fileName);
        images++;
      }
      return { status: existing ? ('replaced' as const) : ('imported' as const), images, rejected };
    });
  }

  /**
   * Embeds reference images again from their files (after a model or pipeline change). Without
   * `all`, only images that have no face of the current model; with `all`, every image enrolled
   * before `startedAt` — so a run cut short continues where it stopped when given the same start.
   */
  async reindex(
    options: { all: boolean; startedAt: string },
    progress: (done: number, total: number, rejection?: Rejection) => void,
  ): Promise<{ reindexed: number; rejected: Rejection[] }> {
    const { items: persons } = await this.deps.store.persons.list({ offset: 0, limit: 1_000_000 });
    const work: { person: Person; image: ReferenceImage }[] = [];
    for (const person of persons) {
      const current = new Set((await this.deps.store.references.facesOfPersons([person.id], this.deps.backend.referenceModel)).map((f) => f.imageId));
      for (const image of await this.deps.store.references.listImages(person.id)) {
        const stale = !current.has(image.id) || (options.all && image.createdAt < options.startedAt);
        if (stale) work.push({ person, image });
      }
    }
    const rejected: Rejection[] = [];
    let reindexed = 0;
    progress(0, work.length);
    for (const [i, { person, image }] of work.entries()) {
      await this.mutex.run(async () => {
        const bytes = this.keepsFiles
          ? (await this.deps.folder.readImage(person.folder, image.fileName))?.bytes
          : await this.deps.backend.readReference?.(`${person.folder}/${image.fileName}`);
        if (!bytes) {
          rejected.push({ filename: `${person.folder}/${image.fileName}`, code: ErrorCode.IMAGE_NOT_FOUND, message: 'the reference image file is missing' });
          return;
        }
        await this.removeImage(person, image);
        const rejection = await this.enrol(person, image.fileName, bytes, sha256(bytes), !this.keepsFiles);
        if (rejection) rejected.push({ ...rejection, filename: `${person.folder}/${image.fileName}` });
        else reindexed++;
      });
      progress(i + 1, work.length, rejected.at(-1));
    }
    return { reindexed, rejected };
  }

  private async requirePerson(personId: string): Promise<Person> {
    const person = await this.deps.store.persons.get(personId);
    if (!person) throw notFound(personId);
    return person;
  }

  /**
   * Store first (the cascade returns the face ids), then the index and the image objects, then
   * the person's traces in stored results (erasure).
   */
  private async deletePerson(person: Person): Promise<{ faces: number; erased: ErasureReport }> {
    const images = await this.deps.store.references.listImages(person.id);
    const { faceIds } = await this.deps.store.persons.delete(person.id);
    await this.deps.backend.removeReferences({ faceIds, keys: this.keepsFiles ? [] : images.map((i) => `${person.folder}/${i.fileName}`) });
    const erased = await this.deps.store.processed.erasePerson(person.id);
    return { faces: faceIds.length, erased };
  }

  private async removeImage(person: Person, image: ReferenceImage): Promise<void> {
    const faceIds = await this.deps.store.references.removeImage(image.id);
    await this.deps.backend.removeReferences({ faceIds, keys: this.keepsFiles ? [] : [`${person.folder}/${image.fileName}`] });
  }

  private async addUploads(person: Person, uploads: Upload[]): Promise<Rejection[]> {
    const rejected: Rejection[] = [];
    const taken = new Set((await this.deps.store.references.listImages(person.id)).map((i) => i.fileName));
    for (const upload of uploads) {
      const fileName = await this.deps.folder.chooseFileName(person.folder, upload.fileName, upload.bytes, taken);
      const rejection = await this.enrol(person, fileName, upload.bytes, sha256(upload.bytes), true);
      if (rejection) rejected.push({ ...rejection, filename: upload.fileName });
      else taken.add(fileName);
    }
    return rejected;
  }

  /**
   * One reference image: the backend checks and indexes it (local: embeds it; Rekognition: stores
   * it in S3 and indexes it), the file is written when blacklist_db/ holds the images, the store
   * records it, and the backend makes it searchable.
   */
  private async enrol(person: Person, fileName: string, bytes: Uint8Array, hash: string, writeFile = false): Promise<Rejection | undefined> {
    const imageId = randomUUID();
    const outcome = await this.deps.backend.indexReference({ personId: person.id, imageId, key: `${person.folder}/${fileName}`, bytes });
    if (!outcome.indexed) return { filename: fileName, code: outcome.code, message: outcome.message };
    if (writeFile && this.keepsFiles) await this.deps.folder.writeImage(person.folder, fileName, bytes);
    await this.deps.store.references.addImage(
      { id: imageId, personId: person.id, fileName, sha256: hash, bytes: bytes.length, createdAt: new Date().toISOString() },
      outcome.faces,
    );
    await this.deps.backend.commitReference(outcome.faces);
    return undefined;
  }
}

function notFound(personId: string): AppError {
  return new AppError(ErrorCode.PERSON_NOT_FOUND, `no watch-list person with id ${personId}`, { details: { person_id: personId } });
}
