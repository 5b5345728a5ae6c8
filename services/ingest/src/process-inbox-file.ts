import { createHash } from 'node:crypto';
import { ErrorCode, toAppError, type ImageProcessed, type ImageReceived } from '@facewatch/core';

/** Why a file was taken although its format said bytes were missing. */
export interface IncompleteUpload {
  /** The format its first bytes name; undefined when too short to tell. */
  format: string | undefined;
  /** What its format says is missing, e.g. "the end-of-image marker (FF D9)". */
  missing: string;
  /** How long it had not changed when it was taken (INBOX_INCOMPLETE_MS or more). */
  unchangedMs: number;
}

/** A file taken out of the inbox into .processing/, under the event id it is published with. */
export interface ClaimedInboxFile {
  eventId: string;
  /** The name it had in the inbox: the event's identifier and its name in done/ or failed/. */
  name: string;
  /** Where it is now (inside .processing/). */
  path: string;
  /** Set when it was taken after INBOX_INCOMPLETE_MS without ever looking complete. */
  incomplete?: IncompleteUpload;
}

/** Written next to a failed file as `<name>.error.json`. */
export interface InboxFailure {
  code: string;
  message: string;
  /** The stored result's id when the matcher answered; null when the file never reached it. */
  image_id: string | null;
  event_id: string;
  failed_at: string;
  /** Only for a file taken while its format still said bytes were missing. */
  incomplete?: { format: string | null; missing: string; unchanged_ms: number };
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
 * fails without reaching the matcher. A file taken while it still looked incomplete goes the same
 * way (it may decode: some writers append data after the image's end), and if it fails, its
 * failure says it was incomplete.
 */
export async function processInboxFile(file: ClaimedInboxFile, deps: ProcessInboxFileDeps, signal: AbortSignal): Promise<InboxOutcome> {
  const now = deps.now ?? (() => new Date());
  let bytes: Uint8Array;
  try {
    bytes = await deps.store.read(file);
  } catch (err) {
    const error = toAppError(err);
    const failure = failureOf(file, error, null, now());
    return { status: 'failed', movedTo: await deps.store.markFailed(file, failure), code: failure.code };
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
    const failure = failureOf(file, result.error, result.image_id, now());
    return { status: 'failed', movedTo: await deps.store.markFailed(file, failure), code: failure.code };
  }
  return { status: 'done', movedTo: await deps.store.markDone(file), imageId: result.image_id };
}

/** Codes a decoder gives a truncated file: for an incomplete upload they mean IMAGE_CORRUPT (truncated data); an empty file stays IMAGE_EMPTY. */
const decodeFailures: ReadonlySet<string> = new Set([ErrorCode.IMAGE_CORRUPT, ErrorCode.IMAGE_UNSUPPORTED_FORMAT]);

function failureOf(file: ClaimedInboxFile, error: { code: string; message: string }, imageId: string | null, at: Date): InboxFailure {
  const base = { image_id: imageId, event_id: file.eventId, failed_at: at.toISOString() };
  const incomplete = file.incomplete;
  if (incomplete === undefined) return { code: error.code, message: error.message, ...base };
  const what = incomplete.format === undefined ? 'the file' : `the ${incomplete.format.toUpperCase()} file`;
  return {
    code: decodeFailures.has(error.code) ? ErrorCode.IMAGE_CORRUPT : error.code,
    message: `incomplete upload: ${what} lacks ${incomplete.missing} and did not change for ${Math.round(incomplete.unchangedMs / 100) / 10} s, so it was taken as it was; ${error.message}`,
    ...base,
    incomplete: { format: incomplete.format ?? null, missing: incomplete.missing, unchanged_ms: Math.round(incomplete.unchangedMs) },
  };
}
