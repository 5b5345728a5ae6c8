import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { extname, join } from 'node:path';

/** Reference image files facewatch picks up from a person's folder. */
export const imageExtensions = new Set(['.jpg', '.jpeg', '.png', '.webp', '.gif', '.tif', '.tiff']);
const extensionFor: Record<string, string> = { jpeg: '.jpg', png: '.png', webp: '.webp', gif: '.gif', tiff: '.tiff' };

export interface FolderImage {
  fileName: string;
  sha256: string;
  bytes: Uint8Array;
}

/**
 * blacklist_db/: one sub-folder per person with their reference images. Writes go to a temporary
 * name and are renamed into place, so the folder watcher never sees half a file.
 */
export class BlacklistFolder {
  constructor(readonly root: string) {}

  /** A folder name for a new person: their name made safe for file systems, unique. */
  async newFolderName(name: string): Promise<string> {
    const base =
      name
        .normalize('NFKD')
        .replace(/[\u0300-\u036f]/g, '')
        .replace(/[^A-Za-z0-9._-]+/g, '_')
        .replace(/^[._]+|[._]+$/g, '')
        .slice(0, 60) || 'person';
    await mkdir(this.root, { recursive: true });
    const taken = new Set(await this.folders());
    let candidate = base;
    for (let n = 2; taken.has(candidate); n++) candidate = `${base}_${n}`;
    await mkdir(join(this.root, candidate), { recursive: true });
    return candidate;
  }

  async folders(): Promise<string[]> {
    try {
      const entries = await readdir(this.root, { withFileTypes: true });
      return entries.filter((e) => e.isDirectory() && !e.name.startsWith('.')).map((e) => e.name).sort();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
  }

  async imageFiles(folder: string): Promise<string[]> {
    try {
      const entries = await readdir(join(this.root, folder), { withFileTypes: true });
      return entries.filter((e) => e.isFile() && !e.name.startsWith('.') && imageExtensions.has(extname(e.name).toLowerCase())).map((e) => e.name).sort();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
  }

  async readImage(folder: string, fileName: string): Promise<FolderImage | undefined> {
    try {
      const bytes = await readFile(join(this.root, folder, fileName));
      return { fileName, bytes, sha256: sha256(bytes) };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  /** Writes an uploaded image under a safe, unique file name; returns the name. */
  async writeImage(folder: string, originalName: string, format: string, bytes: Uint8Array): Promise<string> {
    const dir = join(this.root, folder);
    await mkdir(dir, { recursive: true });
    const ext = extensionFor[format] ?? '.img';
    const stem =
      originalName
        .replace(/\.[^.]*$/, '')
        .replace(/[^A-Za-z0-9_-]+/g, '_')
        .replace(/^_+|_+$/g, '')
        .slice(0, 60) || 'image';
    let name = `${stem}${ext}`;
    for (let n = 2; await exists(join(dir, name)); n++) name = `${stem}_${n}${ext}`;
    const temp = join(dir, `.${name}.${process.pid}.tmp`);
    await writeFile(temp, bytes);
    await rename(temp, join(dir, name));
    return name;
  }

  async removeImage(folder: string, fileName: string): Promise<void> {
    await rm(join(this.root, folder, fileName), { force: true });
  }

  async removeFolder(folder: string): Promise<void> {
    await rm(join(this.root, folder), { recursive: true, force: true });
  }
}

export const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}
