import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { createLogger, InProcessBus, Topic, type ImageReceived, type Subscription } from '@facewatch/core';
import { startInboxWatcher, type InboxWatcher, type InboxWatcherOptions } from '@facewatch/ingest';

export const log = createLogger({ level: 'error', destination: 'stderr' }).child({ component: 'inbox' });

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
 * ImageProcessed of the same event id. Bytes starting with "BAD" get an error answer; bytes
 * starting with "HANG" get none while `hang` is true.
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
      await bus.publish(Topic.imageProcessed, event.event_id, {
        event_id: event.event_id,
        image_id: imageIdOf(bytes),
        source: event.source,
        identifier: event.identifier,
        face_count: bad ? 0 : 1,
        matched: false,
        error: bad ? { code: 'IMAGE_UNSUPPORTED_FORMAT', message: 'not an image' } : null,
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
