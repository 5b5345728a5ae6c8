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
      return entries
        .filter((e) => e.isDirectory() && !e.name.startsWith('.'))
        .map((e) => e.name)
        .sort();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
  }

  async imageFiles(folder: string): Promise<string[]> {
    try {
      const entries = await readdir(join(this.root, folder), { withFileTypes: true });
      return entries
        .filter((e) => e.isFile() && !e.name.startsWith('.') && imageExtensions.has(extname(e.name).toLowerCase()))
        .map((e) => e.name)
        .sort();
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

  /**
   * A safe file name for an upload in a person's folder: the client's name cleaned, the extension
   * of the image's real format (from its first bytes), unique among the files there and `taken`.
   */
  async chooseFileName(folder: string, originalName: string, bytes: Uint8Array, taken: ReadonlySet<string>): Promise<string> {
    const dir = join(this.root, folder);
    const ext = extensionFor[sniffFormat(bytes) ?? ''] ?? '.img';
    const stem =
      originalName
        .replace(/\.[^.]*$/, '')
        .replace(/[^A-Za-z0-9_-]+/g, '_')
        .replace(/^_+|_+$/g, '')
        .slice(0, 60) || 'image';
    let name = `${stem}${ext}`;
    for (let n = 2; taken.has(name) || (await exists(join(dir, name))); n++) name = `${stem}_${n}${ext}`;
    return name;
  }

  /** Writes an image under the name given (chooseFileName); through a temporary name, so the watcher never sees half a file. */
  async writeImage(folder: string, fileName: string, bytes: Uint8Array): Promise<void> {
    const dir = join(this.root, folder);
    await mkdir(dir, { recursive: true });
    const temp = join(dir, `.${fileName}.${process.pid}.tmp`);
    await writeFile(temp, bytes);
    await rename(temp, join(dir, fileName));
  }

  async removeImage(folder: string, fileName: string): Promise<void> {
    await rm(join(this.root, folder, fileName), { force: true });
  }

  async removeFolder(folder: string): Promise<void> {
    await rm(join(this.root, folder), { recursive: true, force: true });
  }
}

/** The image format from its magic bytes (the decoder checks the rest). */
function sniffFormat(b: Uint8Array): string | undefined {
  const ascii = (from: number, to: number) => String.fromCharCode(...b.subarray(from, to));
  if (b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return 'jpeg';
  if (b[0] === 0x89 && ascii(1, 4) === 'PNG') return 'png';
  if (ascii(0, 4) === 'GIF8') return 'gif';
  if (ascii(0, 4) === 'RIFF' && ascii(8, 12) === 'WEBP') return 'webp';
  if (ascii(0, 4) === 'II*\0' || ascii(0, 4) === 'MM\0*') return 'tiff';
  return undefined;
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
