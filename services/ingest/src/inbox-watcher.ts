import { randomUUID } from 'node:crypto';
import { basename, dirname, resolve } from 'node:path';
import { watch, type FSWatcher } from 'chokidar';
import type { EventBus, Logger } from '@facewatch/core';
import { InboxFolder, isInboxCandidateName } from './inbox-folder.js';
import { processInboxFile, type ClaimedInboxFile, type IncompleteUpload } from './process-inbox-file.js';
import { ProcessedResults } from './processed-results.js';
import { newUpload, nextStep, observe, warnIncompleteAfterMs, type UploadLimits, type WatchedUpload } from './upload-readiness.js';

export interface InboxWatcherOptions {
  /** The watched folder (created with its done/, failed/ and .processing/ sub-folders when missing). */
  inboxDir: string;
  bus: EventBus;
  /** Used as given: pass the component's child logger. */
  log: Logger;
  /** How long size and mtime must stay unchanged before a complete-looking file is taken (INBOX_STABLE_MS). */
  stableMs?: number;
  /**
   * How long a file whose format says it is incomplete (JPEG without its end marker…) must stay
   * unchanged before it is taken anyway (INBOX_INCOMPLETE_MS); at least `stableMs`.
   */
  incompleteMs?: number;
  /** Larger files fail with IMAGE_TOO_LARGE without being published (pass MAX_IMAGE_BYTES). */
  maxInlineBytes?: number;
  /** Files claimed and waiting for their result at once. */
  concurrency?: number;
  /** How long close() waits for files in flight before leaving them in .processing/. */
  closeGraceMs?: number;
  /** Full re-reads of the folder, in case the file system dropped an event; 0 turns them off. */
  rescanMs?: number;
  /** Consumer group of the ImageProcessed subscription. */
  group?: string;
}

export interface InboxWatcher {
  readonly inboxDir: string;
  /** Files seen and not yet finished: waiting to be taken, or taken and waiting for their result (a queue depth). */
  readonly pending: number;
  /**
   * Stops watching and taking files, then waits up to `closeGraceMs` for files in flight. Files
   * still waiting for their result stay in .processing/ and are taken first at the next start;
   * files not yet claimed stay in the inbox.
   */
  close(): Promise<void>;
}

const defaults = {
  stableMs: 1000,
  incompleteMs: 600_000,
  maxInlineBytes: 25 * 1024 * 1024,
  concurrency: 4,
  closeGraceMs: 10_000,
  rescanMs: 10_000,
  group: 'ingest-inbox',
  /** Delay before a file whose event could not be published is tried again. */
  retryMs: 5_000,
  /** Files whose completeness is checked at once (each check opens the file). */
  checkConcurrency: 8,
} as const;

interface Tracked extends WatchedUpload {
  /** Waiting in `ready` or being claimed: not looked at until that settles. */
  queued: boolean;
  /** Set when it is taken although it still looks incomplete. */
  takenIncomplete: IncompleteUpload | undefined;
}

/**
 * Watches the inbox folder: every regular file dropped at its top level is published once as an
 * ImageReceived event, then filed under done/ or failed/ by its ImageProcessed answer. A file is
 * taken once its size and mtime have stayed unchanged for `stableMs` and its own format says it
 * is whole (image-completeness.ts: JPEG end marker, PNG IEND…); a file whose format says bytes
 * are missing is held back — an upload paused mid-way — until it has not changed for
 * `incompleteMs`, reported after a while, then taken as it is. A file that grows again is the
 * same upload, waited for again; a file is claimed only if it is unchanged since it was judged.
 * chokidar only says where to look; files are polled with lstat, because chokidar's
 * awaitWriteFinish looks at the size only. An empty file waits for bytes as an incomplete upload
 * (a writer often creates the file first), and fails with IMAGE_EMPTY after the incomplete limit.
 * Files left in .processing/ by a crash are taken first.
 */
export async function startInboxWatcher(options: InboxWatcherOptions): Promise<InboxWatcher> {
  const inboxDir = resolve(options.inboxDir);
  const stableMs = options.stableMs ?? defaults.stableMs;
  const incompleteMs = Math.max(stableMs, options.incompleteMs ?? defaults.incompleteMs);
  const limits: UploadLimits = { stableMs, incompleteMs, warnIncompleteMs: warnIncompleteAfterMs(stableMs, incompleteMs) };
  const concurrency = Math.max(1, options.concurrency ?? defaults.concurrency);
  const closeGraceMs = options.closeGraceMs ?? defaults.closeGraceMs;
  const rescanMs = options.rescanMs ?? defaults.rescanMs;
  const log = options.log;
  const folder = new InboxFolder(inboxDir, options.maxInlineBytes ?? defaults.maxInlineBytes);
  await folder.prepare();
  const results = await ProcessedResults.start(options.bus, options.group ?? defaults.group);

  const tracked = new Map<string, Tracked>();
  const ready: string[] = [];
  const claimed: ClaimedInboxFile[] = [];
  const inFlight = new Set<Promise<void>>();
  const retries = new Set<NodeJS.Timeout>();
  const shutdown = new AbortController();
  let closing = false;

  const consider = (name: string): void => {
    if (closing || !isInboxCandidateName(name) || tracked.has(name)) return;
    tracked.set(name, { ...newUpload(performance.now()), queued: false, takenIncomplete: undefined });
  };

  /** Acts on an upload's next step; returns true when its completeness must be checked. */
  const advance = (name: string, t: Tracked, now: number): boolean => {
    const step = nextStep(t, now, limits);
    if (step === 'check') return true;
    if (step === 'wait') return false;
    const c = t.completeness;
    const missing = c?.isComplete === false ? c.missing : undefined;
    const about = { file: name, format: c?.format, missing, unchangedMs: Math.round(now - t.since), incompleteMs };
    if (step === 'warn') {
      t.hasWarned = true;
      log.warn(about, 'inbox file looks incomplete and has stopped growing; waiting for the rest');
      return advance(name, t, now); // already past the limit when the look came late
    }
    if (step === 'take-incomplete') {
      // no verdict at all: every check failed; the claim or the read will say why
      t.takenIncomplete = { format: c?.format, missing: missing ?? 'a completeness check (its bytes could not be read)', unchangedMs: now - t.since };
      log.warn(about, 'inbox file still incomplete after the limit; taking it as it is');
    }
    t.queued = true;
    ready.push(name);
    return false;
  };

  /** Reads the head and tail of files that just became stable, a few at a time. */
  const check = async (names: string[]): Promise<void> => {
    const next = names.values();
    const worker = async (): Promise<void> => {
      for (const name of next) {
        const t = tracked.get(name);
        if (t === undefined) continue;
        const seen = await folder.inspect(name).catch((err: unknown) => {
          // checked again at the next look; never judged, it is taken after incompleteMs
          if (!t.hasFailedCheck) log.warn({ err, file: name }, 'inbox file could not be checked for completeness; trying again');
          t.hasFailedCheck = true;
          return undefined;
        });
        if (seen === undefined) continue; // gone (the next look drops it), or the check failed
        const now = performance.now();
        // a verdict holds for the state it was made on: a file changed meanwhile waits again instead
        observe(t, seen.state, now);
        if (t.completeness === undefined && now - t.since >= stableMs) t.completeness = seen.completeness;
        advance(name, t, now);
      }
    };
    await Promise.all(Array.from({ length: defaults.checkConcurrency }, worker));
  };

  let polling = false;
  const poll = async (): Promise<void> => {
    if (polling || closing) return;
    polling = true;
    try {
      const looks = [...tracked].filter(([, t]) => !t.queued);
      const states = await Promise.all(looks.map(([name]) => folder.state(name).catch(() => undefined)));
      const now = performance.now();
      const toCheck: string[] = [];
      looks.forEach(([name, t], i) => {
        const state = states[i];
        if (state === undefined) {
          tracked.delete(name); // gone, or not a regular file
          return;
        }
        observe(t, state, now);
        if (advance(name, t, now)) toCheck.push(name);
      });
      pump();
      await check(toCheck);
    } finally {
      polling = false;
    }
    pump();
  };

  const pump = (): void => {
    while (!closing && inFlight.size < concurrency) {
      const next = claimed.shift() ?? ready.shift();
      if (next === undefined) return;
      const run: Promise<void> = handle(next)
        .catch((err: unknown) => log.error({ err, file: typeof next === 'string' ? next : next.name }, 'inbox file not finished; it stays where it is'))
        .finally(() => {
          inFlight.delete(run);
          pump();
        });
      inFlight.add(run);
    }
  };

  const handle = async (next: string | ClaimedInboxFile): Promise<void> => {
    let file: ClaimedInboxFile;
    if (typeof next === 'string') {
      const t = tracked.get(next);
      if (t?.state === undefined) return;
      let outcome: Awaited<ReturnType<InboxFolder['claim']>>;
      try {
        outcome = await folder.claim(next, randomUUID(), t.state);
      } catch (err) {
        tracked.delete(next); // the next rescan tries again
        throw err;
      }
      if (outcome === 'changed') {
        // written to again after it was judged: the same upload, waited for once more
        Object.assign(t, newUpload(performance.now()), { queued: false, takenIncomplete: undefined });
        return;
      }
      tracked.delete(next); // from now on the name is free for a new file
      if (outcome === 'gone') return;
      file = t.takenIncomplete === undefined ? outcome : { ...outcome, incomplete: t.takenIncomplete };
    } else {
      file = next;
    }
    const outcome = await processInboxFile(file, { store: folder, submitter: results }, shutdown.signal);
    const fields = { file: file.name, eventId: file.eventId };
    switch (outcome.status) {
      case 'done':
        log.info({ ...fields, movedTo: outcome.movedTo, imageId: outcome.imageId }, 'inbox file processed');
        return;
      case 'failed':
        log.warn({ ...fields, movedTo: outcome.movedTo, code: outcome.code }, 'inbox file failed');
        return;
      case 'left':
        if (closing) {
          log.info(fields, 'inbox file left in .processing for the next start');
          return;
        }
        log.error({ ...fields, err: outcome.reason }, 'inbox file could not be published; trying again');
        {
          const timer = setTimeout(() => {
            retries.delete(timer);
            claimed.push(file);
            pump();
          }, defaults.retryMs);
          retries.add(timer);
        }
        return;
    }
  };

  // 1. files a previous run claimed and did not finish go first
  claimed.push(...(await folder.listClaimed()));
  if (claimed.length > 0) log.info({ files: claimed.length }, 'taking up inbox files left in .processing');
  pump();

  // 2. then new files: watch first, then list, so nothing dropped in between is missed
  const watcher: FSWatcher = watch(inboxDir, {
    depth: 0,
    ignoreInitial: true,
    followSymlinks: false,
    ignored: (path: string) => path !== inboxDir && (dirname(path) !== inboxDir || !isInboxCandidateName(basename(path))),
  });
  const onChange = (path: string): void => {
    if (dirname(path) === inboxDir) consider(basename(path));
  };
  watcher.on('add', onChange).on('change', onChange);
  watcher.on('error', (err) => log.error({ err }, 'inbox watcher error'));
  await new Promise<void>((resolveReady) => watcher.once('ready', resolveReady));
  const rescan = async (): Promise<void> => {
    for (const name of await folder.listInbox()) consider(name);
  };
  await rescan();

  const pollTimer = setInterval(() => void poll().catch((err: unknown) => log.error({ err }, 'inbox poll failed')), Math.max(20, Math.min(250, Math.round(stableMs / 4))));
  const rescanTimer = rescanMs > 0 ? setInterval(() => void rescan().catch((err: unknown) => log.error({ err }, 'inbox rescan failed')), rescanMs) : undefined;
  log.info({ inboxDir, stableMs, incompleteMs, concurrency }, 'watching the inbox');

  let closed: Promise<void> | undefined;
  return {
    inboxDir,
    get pending() {
      return tracked.size + inFlight.size;
    },
    close: () =>
      (closed ??= (async () => {
        closing = true;
        clearInterval(pollTimer);
        if (rescanTimer) clearInterval(rescanTimer);
        for (const timer of retries) clearTimeout(timer);
        await watcher.close();
        const grace = setTimeout(() => shutdown.abort(new Error('the inbox watcher is closing')), closeGraceMs);
        while (inFlight.size > 0) await Promise.all([...inFlight]);
        clearTimeout(grace);
        await results.close();
        log.info({ inboxDir }, 'inbox watcher closed');
      })()),
  };
}
