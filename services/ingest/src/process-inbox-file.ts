import { createHash } from 'node:crypto';
import { toAppError, type ImageProcessed, type ImageReceived } from '@facewatch/core';

/** A file taken out of the inbox into .processing/, under the event id it is published with. */
export interface ClaimedInboxFile {
  eventId: string;
  /** The name it had in the inbox: the event's identifier and its name in done/ or failed/. */
  name: string;
  /** Where it is now (inside .processing/). */
  path: string;
}

/** Written next to a failed file as `<name>.error.json`. */
export interface InboxFailure {
  code: string;
  message: string;
  /** The stored result's id when the matcher answered; null when the file never reached it. */
  image_id: string | null;
  event_id: string;
  failed_at: string;
}

export interface InboxFileStore {
  read(file: ClaimedInboxFile): Promise<Uint8Array>;
  /** Moves the file to done/; returns where it went, relative to the inbox. */
  markDone(file: ClaimedInboxFile): Promise<string>;
  /** Moves the file to failed/ and records why; returns where it went, relative to the inbox. */
  markFailed(file: ClaimedInboxFile, failure: InboxFailure): Promise<string>;
}

export interface ImageSubmitter {
  /** Publishes the event and resolves with its answer; rejects (with the signal's reason) when `signal` aborts. */
  submit(event: ImageReceived, signal: AbortSignal): Promise<ImageProcessed>;
}

export type InboxOutcome =
  | { status: 'done'; movedTo: string; imageId: string }
  | { status: 'failed'; movedTo: string; code: string }
  /** Left in .processing/ for the next start: shutdown came first, or the event could not be published. */
  | { status: 'left'; reason: unknown };

export interface ProcessInboxFileDeps {
  store: InboxFileStore;
  submitter: ImageSubmitter;
  now?: () => Date;
}

/**
 * The inbox use case for one claimed file: read it, publish ImageReceived, wait for the matching
 * ImageProcessed, then file it under done/ or failed/ (with the error). A file that cannot be read
 * fails without reaching the matcher.
 */
export async function processInboxFile(file: ClaimedInboxFile, deps: ProcessInboxFileDeps, signal: AbortSignal): Promise<InboxOutcome> {
  const now = deps.now ?? (() => new Date());
  let bytes: Uint8Array;
  try {
    bytes = await deps.store.read(file);
  } catch (err) {
    const error = toAppError(err);
    const failure = { code: error.code, message: error.message, image_id: null, event_id: file.eventId, failed_at: now().toISOString() };
    return { status: 'failed', movedTo: await deps.store.markFailed(file, failure), code: error.code };
  }
  const event: ImageReceived = {
    event_id: file.eventId,
    source: 'inbox',
    identifier: file.name,
    sha256: createHash('sha256').update(bytes).digest('hex'),
    image: { kind: 'bytes', bytes },
    received_at: now().toISOString(),
  };
  let result: ImageProcessed;
  try {
    result = await deps.submitter.submit(event, signal);
  } catch (err) {
    return { status: 'left', reason: err };
  }
  if (result.error !== null) {
    const failure: InboxFailure = {
      code: result.error.code,
      message: result.error.message,
      image_id: result.image_id,
      event_id: file.eventId,
      failed_at: now().toISOString(),
    };
    return { status: 'failed', movedTo: await deps.store.markFailed(file, failure), code: result.error.code };
  }
  return { status: 'done', movedTo: await deps.store.markDone(file), imageId: result.image_id };
}
