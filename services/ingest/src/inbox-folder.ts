import { randomUUID } from 'node:crypto';
import { constants } from 'node:fs';
import { lstat, mkdir, open, readdir, readFile, rename, writeFile } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { AppError, ErrorCode } from '@facewatch/core';
import { checkImageCompleteness, type Completeness } from './image-completeness.js';
import type { ClaimedInboxFile, InboxFailure, InboxFileStore } from './process-inbox-file.js';
import { sameState, type InboxFileState } from './upload-readiness.js';

/** Sub-folders of the inbox: files in work, files done, files that failed. */
export const InboxSubfolder = { processing: '.processing', done: 'done', failed: 'failed' } as const;

const claimedName = /^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})__(.+)$/i;
const partialSuffix = /\.(tmp|part|crdownload)$/i;

/**
 * Whether a top-level inbox entry name may be an image to take: not a dotfile, not a download or
 * copy in progress (`*.tmp`, `*.part`, `*.crdownload`), not one of the inbox's own sub-folders.
 */
export function isInboxCandidateName(name: string): boolean {
  return !name.startsWith('.') && !partialSuffix.test(name) && name !== InboxSubfolder.done && name !== InboxSubfolder.failed;
}

/**
 * The inbox folder on disk. Files move by rename only (atomic within the folder's file system):
 * inbox → `.processing/<event_id>__<name>` → `done/<name>` or `failed/<name>` (+ `<name>.error.json`).
 * Nothing is deleted or overwritten; a name already taken in done/ or failed/ gets `-1`, `-2`…
 * before its extension. One process owns an inbox: moves are serialised within this process only.
 */
export class InboxFolder implements InboxFileStore {
  private moves: Promise<unknown> = Promise.resolve();

  constructor(
    readonly dir: string,
    private readonly maxInlineBytes: number,
  ) {}

  async prepare(): Promise<void> {
    for (const sub of Object.values(InboxSubfolder)) await mkdir(join(this.dir, sub), { recursive: true });
  }

  /** Top-level regular files whose names are candidates. */
  async listInbox(): Promise<string[]> {
    const entries = await readdir(this.dir, { withFileTypes: true });
    return entries
      .filter((e) => e.isFile() && isInboxCandidateName(e.name))
      .map((e) => e.name)
      .sort();
  }

  /** Files a previous run claimed and did not finish, oldest claim first when times differ. */
  async listClaimed(): Promise<ClaimedInboxFile[]> {
    const folder = join(this.dir, InboxSubfolder.processing);
    const entries = (await readdir(folder, { withFileTypes: true })).filter((e) => e.isFile() && !e.name.startsWith('.'));
    const claimed: { file: ClaimedInboxFile; mtimeMs: number }[] = [];
    for (const entry of entries) {
      let file: ClaimedInboxFile;
      const m = claimedName.exec(entry.name);
      if (m) {
        file = { eventId: m[1]!.toLowerCase(), name: m[2]!, path: join(folder, entry.name) };
      } else {
        // put there by hand: give it an event id so it goes the same way as the others
        const eventId = randomUUID();
        const path = join(folder, `${eventId}__${entry.name}`);
        await rename(join(folder, entry.name), path);
        file = { eventId, name: entry.name, path };
      }
      const info = await lstat(file.path).catch(() => undefined);
      if (info) claimed.push({ file, mtimeMs: info.mtimeMs });
    }
    return claimed.sort((a, b) => a.mtimeMs - b.mtimeMs || a.file.name.localeCompare(b.file.name)).map((c) => c.file);
  }

  /** The state of a top-level entry, or undefined when it is gone or not a regular file. */
  async state(name: string): Promise<InboxFileState | undefined> {
    try {
      const info = await lstat(join(this.dir, name));
      return info.isFile() ? { size: info.size, mtimeMs: info.mtimeMs, ino: info.ino } : undefined;
    } catch (err) {
      if (isMissing(err)) return undefined;
      throw err;
    }
  }

  /**
   * Whether a top-level file looks complete by its format, with the state it had when looked at
   * (from the same open file). Reads its head and tail only. Undefined when it is gone or not a
   * regular file.
   */
  async inspect(name: string): Promise<{ state: InboxFileState; completeness: Completeness } | undefined> {
    let handle;
    try {
      // O_NONBLOCK: something swapped for a FIFO since the last look must not hang the open
      handle = await open(join(this.dir, name), constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    } catch (err) {
      if (isMissing(err) || (err as NodeJS.ErrnoException).code === 'ELOOP') return undefined;
      throw err;
    }
    try {
      const info = await handle.stat();
      if (!info.isFile()) return undefined;
      const completeness = await checkImageCompleteness({
        size: info.size,
        read: async (offset, length) => {
          const buffer = Buffer.alloc(Math.max(0, Math.min(length, info.size - offset)));
          const { bytesRead } = await handle.read(buffer, 0, buffer.length, offset);
          return buffer.subarray(0, bytesRead);
        },
      });
      return { state: { size: info.size, mtimeMs: info.mtimeMs, ino: info.ino }, completeness };
    } finally {
      await handle.close();
    }
  }

  /**
   * Takes a stable file by renaming it into .processing/ — atomic, so it happens once. 'changed'
   * when it no longer matches `expected` (written again), 'gone' when it vanished meanwhile.
   */
  async claim(name: string, eventId: string, expected: InboxFileState): Promise<ClaimedInboxFile | 'changed' | 'gone'> {
    const current = await this.state(name);
    if (current === undefined) return 'gone';
    if (!sameState(current, expected)) return 'changed';
    const path = join(this.dir, InboxSubfolder.processing, `${eventId}__${name}`);
    try {
      await rename(join(this.dir, name), path);
    } catch (err) {
      if (isMissing(err)) return 'gone';
      throw err;
    }
    return { eventId, name, path };
  }

  async read(file: ClaimedInboxFile): Promise<Uint8Array> {
    try {
      const info = await lstat(file.path);
      if (info.size > this.maxInlineBytes) {
        throw new AppError(ErrorCode.IMAGE_TOO_LARGE, `${file.name} has ${info.size} bytes, more than the limit of ${this.maxInlineBytes}`, {
          details: { bytes: info.size, maxBytes: this.maxInlineBytes },
        });
      }
      return new Uint8Array(await readFile(file.path));
    } catch (err) {
      if (err instanceof AppError) throw err;
      throw new AppError(ErrorCode.IMAGE_NOT_FOUND, `${file.name} cannot be read`, { cause: err });
    }
  }

  markDone(file: ClaimedInboxFile): Promise<string> {
    return this.serialised(async () => {
      const name = await this.freeName(InboxSubfolder.done, file.name);
      await rename(file.path, join(this.dir, InboxSubfolder.done, name));
      return join(InboxSubfolder.done, name);
    });
  }

  markFailed(file: ClaimedInboxFile, failure: InboxFailure): Promise<string> {
    return this.serialised(async () => {
      const name = await this.freeName(InboxSubfolder.failed, file.name);
      const target = join(this.dir, InboxSubfolder.failed, name);
      await rename(file.path, target);
      // written aside and renamed, so whoever sees the record sees all of it
      const partial = join(this.dir, InboxSubfolder.failed, `.${name}.${file.eventId}.error.json.tmp`);
      await writeFile(partial, `${JSON.stringify(failure, null, 2)}\n`, { flag: 'wx' });
      await rename(partial, `${target}.error.json`);
      return join(InboxSubfolder.failed, name);
    });
  }

  /** `name`, else `stem-1.ext`, `stem-2.ext`…: the first taken by neither a file nor an error record. */
  private async freeName(sub: string, name: string): Promise<string> {
    const ext = extname(name);
    const stem = name.slice(0, name.length - ext.length);
    for (let n = 0; ; n++) {
      const candidate = n === 0 ? name : `${stem}-${n}${ext}`;
      const taken = await Promise.all(
        [candidate, `${candidate}.error.json`].map((c) =>
          lstat(join(this.dir, sub, c)).then(
            () => true,
            (err: unknown) => {
              if (isMissing(err)) return false;
              throw err;
            },
          ),
        ),
      );
      if (!taken.includes(true)) return candidate;
    }
  }

  private serialised<T>(work: () => Promise<T>): Promise<T> {
    const run = this.moves.then(work, work);
    this.moves = run.catch(() => undefined);
    return run;
  }
}

function isMissing(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}
