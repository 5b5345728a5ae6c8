import type { Completeness } from './image-completeness.js';

/** What says a file is still being written: any change of these between two looks. */
export interface InboxFileState {
  size: number;
  mtimeMs: number;
  ino: number;
}

export function sameState(a: InboxFileState, b: InboxFileState): boolean {
  return a.size === b.size && a.mtimeMs === b.mtimeMs && a.ino === b.ino;
}

export interface UploadLimits {
  /** How long a complete-looking file must stay unchanged before it is taken (INBOX_STABLE_MS). */
  stableMs: number;
  /** How long a file whose format says it is incomplete must stay unchanged before it is taken anyway (INBOX_INCOMPLETE_MS). */
  incompleteMs: number;
  /** When a file that looks incomplete and does not grow is reported (once per pause). */
  warnIncompleteMs: number;
}

/**
 * One file in the inbox, followed from its first look until it is taken. A file that grows again
 * stays the same upload: only its state and the time it has been unchanged start over.
 */
export interface WatchedUpload {
  /** Last state seen; undefined until the first look. */
  state: InboxFileState | undefined;
  /** Since when `state` has been seen unchanged (monotonic ms). */
  since: number;
  /** Whether `state` looked complete; undefined until checked (once it has been stable for `stableMs`). */
  completeness: Completeness | undefined;
  /** Whether the current pause of an incomplete-looking file was reported. */
  hasWarned: boolean;
  /** Whether a check of `state` failed (the file could not be read): it is tried again at each look. */
  hasFailedCheck: boolean;
}

export function newUpload(now: number): WatchedUpload {
  return { state: undefined, since: now, completeness: undefined, hasWarned: false, hasFailedCheck: false };
}

/**
 * Records a look at the file: a new state restarts the wait. An empty file is an upload that has
 * not started: incomplete, so it waits like one — for bytes, or for INBOX_INCOMPLETE_MS, after which
 * it is taken and fails (IMAGE_EMPTY) rather than sitting in the inbox for ever.
 */
export function observe(upload: WatchedUpload, state: InboxFileState, now: number): void {
  if (upload.state !== undefined && sameState(upload.state, state)) return;
  const completeness = state.size === 0 ? { isComplete: false as const, format: undefined, missing: 'every byte: the file is empty' } : undefined;
  Object.assign(upload, { state, since: now, completeness, hasWarned: false, hasFailedCheck: false });
}

export type UploadStep =
  /** Still being written, or not unchanged for long enough yet. */
  | 'wait'
  /** Unchanged for `stableMs` and not judged yet: check whether its format says it is complete. */
  | 'check'
  /** Looks incomplete and has not grown for `warnIncompleteMs`: report it (once per pause), then ask again. */
  | 'warn'
  /** Complete (or of a format with no check) and unchanged for `stableMs`. */
  | 'take'
  /** Looks incomplete (or could never be checked) but has not changed for `incompleteMs`: take it as it is. */
  | 'take-incomplete';

/** What to do next with an upload, from how long it has been unchanged and what its format says. */
export function nextStep(upload: WatchedUpload, now: number, limits: UploadLimits): UploadStep {
  if (upload.state === undefined) return 'wait';
  const unchangedMs = now - upload.since;
  if (unchangedMs < limits.stableMs) return 'wait';
  // a file whose check keeps failing is not held back forever either
  if (upload.completeness === undefined) return upload.hasFailedCheck && unchangedMs >= limits.incompleteMs ? 'take-incomplete' : 'check';
  if (upload.completeness.isComplete) return 'take';
  // reported before it is taken, even when the look that sees it is already past the limit
  if (unchangedMs >= limits.warnIncompleteMs && !upload.hasWarned) return 'warn';
  if (unchangedMs >= limits.incompleteMs) return 'take-incomplete';
  return 'wait';
}

/** When an incomplete-looking file is reported: after a minute without growth, or half the limit when that is shorter. */
export function warnIncompleteAfterMs(stableMs: number, incompleteMs: number): number {
  return Math.max(stableMs, Math.min(60_000, Math.round(incompleteMs / 2)));
}
