import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, realpathSync, rmSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { createLogger, InProcessBus, projectRoot, Topic, type ImageReceived, type Logger, type Subscription } from '@facewatch/core';
import { startInboxWatcher, type InboxWatcher, type InboxWatcherOptions } from '@facewatch/ingest';

export const log = createLogger({ level: 'error', destination: 'stderr' }).child({ component: 'inbox' });

export interface Warning {
  fields: Record<string, unknown>;
  msg: string;
}

/**
 * A logger that also records its warnings (still printed only at level error); `onWarning` runs
 * when each is logged, to look at the folder at that moment.
 */
export function recordingLog(onWarning?: (warning: Warning) => void): { log: Logger; warnings: Warning[] } {
  const recording = createLogger({ level: 'error', destination: 'stderr' }).child({ component: 'inbox' });
  const warnings: Warning[] = [];
  const original = recording.warn.bind(recording);
  recording.warn = ((fields: Record<string, unknown>, msg: string) => {
    const warning = { fields, msg };
    warnings.push(warning);
    onWarning?.(warning);
    original(fields, msg);
  }) as Logger['warn'];
  return { log: recording, warnings };
}

/** The shared face fixtures (../shared/fixtures/faces): real JPEG and PNG photos. */
export const fixture = (...path: string[]): string => resolve(projectRoot(), '..', 'shared', 'fixtures', 'faces', ...path);

/**
 * Writes `bytes` to `path` in `parts` pieces with `pauseMs` between them, as an upload written in
 * place does (a camera's FTP upload on a slow link). `reopen`: every piece opens the file again in
 * append mode (an FTP client resuming: APPE/REST), else one open file takes every piece.
 * `beforeNextPart` runs at the end of each pause.
 */
export async function writeInParts(
  path: string,
  bytes: Uint8Array,
  options: { parts: number; pauseMs: number; reopen?: boolean; beforeNextPart?: (written: number) => void | Promise<void> },
): Promise<void> {
  const cuts = Array.from({ length: options.parts + 1 }, (_, i) => Math.round((bytes.length * i) / options.parts));
  let file = await open(path, 'w');
  try {
    for (let i = 0; i < options.parts; i++) {
      if (i > 0) {
        await sleep(options.pauseMs);
        await options.beforeNextPart?.(cuts[i]!);
        if (options.reopen) {
          await file.close();
          file = await open(path, 'a');
        }
      }
      await file.write(bytes.subarray(cuts[i]!, cuts[i + 1]!));
    }
  } finally {
    await file.close();
  }
}

/** What the real decoder (sharp with failOn 'truncated') says of a JPEG or PNG cut short; undefined otherwise. */
export function truncationOf(bytes: Buffer): string | undefined {
  if (bytes.subarray(0, 3).equals(Buffer.from([0xff, 0xd8, 0xff])) && !bytes.includes(Buffer.from([0xff, 0xd9]))) return 'VipsJpeg: premature end of JPEG image';
  if (bytes.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) && !bytes.includes(Buffer.from('IEND'))) return 'vipspng: libpng read error';
  return undefined;
}

/** A fresh temp folder; removed by the returned function. */
export function tempDir(prefix: string): { dir: string; remove: () => void } {
  const dir = realpathSync(mkdtempSync(join(tmpdir(), prefix)));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Sorted names in a folder ([] when it does not exist). */
export function names(dir: string): string[] {
  return existsSync(dir) ? readdirSync(dir).sort() : [];
}

/** Polls until `condition` holds; fails after `capMs` (generous: these are not timing tests). */
export async function until(condition: () => boolean, what: string, capMs = 20_000): Promise<void> {
  for (const started = Date.now(); !condition(); await sleep(25)) {
    if (Date.now() - started > capMs) assert.fail(`timed out waiting until ${what}`);
  }
}

export interface Received {
  event: ImageReceived;
  /** A copy of the published bytes. */
  bytes: Buffer;
}

/**
 * Stands in for the matcher on the bus: records each ImageReceived and answers with an
 * ImageProcessed of the same event id. Bytes starting with "BAD" get an error answer, a JPEG or
 * PNG cut short gets the real decoder's IMAGE_CORRUPT; bytes starting with "HANG" get none while
 * `hang` is true.
 */
export class FakeMatcher {
  readonly received: Received[] = [];
  pending = 0;
  maxPending = 0;
  hang = true;
  private subscription: Subscription | undefined;

  constructor(private readonly answerDelayMs = 0) {}

  async attach(bus: InProcessBus): Promise<this> {
    this.subscription = await bus.subscribe(Topic.imageReceived, { group: 'fake-matcher', concurrency: 64 }, async (event) => {
      assert.equal(event.image.kind, 'bytes');
      const bytes = Buffer.from(event.image.kind === 'bytes' ? event.image.bytes : []);
      this.received.push({ event, bytes });
      if (this.hang && bytes.subarray(0, 4).toString() === 'HANG') return;
      this.pending++;
      this.maxPending = Math.max(this.maxPending, this.pending);
      if (this.answerDelayMs > 0) await sleep(this.answerDelayMs);
      this.pending--;
      const bad = bytes.subarray(0, 3).toString() === 'BAD';
      const truncation = truncationOf(bytes);
      await bus.publish(Topic.imageProcessed, event.event_id, {
        event_id: event.event_id,
        image_id: imageIdOf(bytes),
        source: event.source,
        identifier: event.identifier,
        face_count: bad || truncation ? 0 : 1,
        matched: false,
        error: bad
          ? { code: 'IMAGE_UNSUPPORTED_FORMAT', message: 'not an image' }
          : truncation
            ? { code: 'IMAGE_CORRUPT', message: `the image could not be decoded: ${truncation}` }
            : null,
        processed_at: new Date().toISOString(),
      });
    });
    return this;
  }

  identifiers(): string[] {
    return this.received.map((r) => r.event.identifier).sort();
  }

  async detach(): Promise<void> {
    await this.subscription?.close();
  }
}

/** Deterministic by content, like the real matcher's result ids. */
export function imageIdOf(bytes: Uint8Array): string {
  return `img-${createHash('sha256').update(bytes).digest('hex').slice(0, 16)}`;
}

export interface Harness {
  bus: InProcessBus;
  matcher: FakeMatcher;
  watcher: InboxWatcher;
  stop(): Promise<void>;
}

/** A real bus, a fake matcher and the watcher on `inboxDir`. */
export async function startHarness(options: Partial<InboxWatcherOptions> & { inboxDir: string }, matcher = new FakeMatcher()): Promise<Harness> {
  const bus = new InProcessBus(log);
  await matcher.attach(bus);
  const watcher = await startInboxWatcher({ bus, log, stableMs: 300, rescanMs: 0, ...options });
  return {
    bus,
    matcher,
    watcher,
    stop: async () => {
      await watcher.close();
      await matcher.detach();
      await bus.close();
    },
  };
}
