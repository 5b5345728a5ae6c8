import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { AppError, ErrorCode, type ImageProcessed, type ImageReceived } from '@facewatch/core';
import { processInboxFile, type ClaimedInboxFile, type InboxFailure, type InboxFileStore } from './process-inbox-file.js';

// Small: the inbox use case with an in-memory store and matcher: what a failure record says.

const at = new Date('2025-01-02T03:04:05.000Z');

function store(read: () => Promise<Uint8Array>) {
  const failures: InboxFailure[] = [];
  const done: string[] = [];
  const s: InboxFileStore = {
    read,
    markDone: async (file) => (done.push(file.name), `done/${file.name}`),
    markFailed: async (file, failure) => (failures.push(failure), `failed/${file.name}`),
  };
  return { store: s, failures, done };
}

const answering = (error: ImageProcessed['error']) => ({
  submit: async (event: ImageReceived): Promise<ImageProcessed> => ({
    event_id: event.event_id,
    image_id: 'img-1',
    source: event.source,
    identifier: event.identifier,
    face_count: 0,
    matched: false,
    error,
    processed_at: at.toISOString(),
  }),
});

const file = (incomplete?: ClaimedInboxFile['incomplete']): ClaimedInboxFile => ({
  eventId: '00000000-0000-4000-8000-000000000001',
  name: 'cam.jpg',
  path: '/inbox/.processing/x',
  ...(incomplete ? { incomplete } : {}),
});
const incomplete = { format: 'jpeg', missing: 'the end-of-image marker (FF D9)', unchangedMs: 600_000 };
const signal = new AbortController().signal;
const bytes = async () => new Uint8Array([0xff, 0xd8, 0xff, 1, 2, 3]);

describe('processInboxFile: a file taken while incomplete', () => {
  test('a decode failure is recorded as IMAGE_CORRUPT that says the upload was incomplete', async () => {
    for (const code of [ErrorCode.IMAGE_CORRUPT, ErrorCode.IMAGE_UNSUPPORTED_FORMAT]) {
      const s = store(bytes);
      const outcome = await processInboxFile(
        file(incomplete),
        { store: s.store, submitter: answering({ code, message: 'the image could not be decoded: VipsJpeg: premature end of JPEG image' }), now: () => at },
        signal,
      );
      assert.deepEqual(outcome, { status: 'failed', movedTo: 'failed/cam.jpg', code: 'IMAGE_CORRUPT' });
      assert.deepEqual(s.failures, [
        {
          code: 'IMAGE_CORRUPT',
          message:
            'incomplete upload: the JPEG file lacks the end-of-image marker (FF D9) and did not change for 600 s, so it was taken as it was; the image could not be decoded: VipsJpeg: premature end of JPEG image',
          image_id: 'img-1',
          event_id: '00000000-0000-4000-8000-000000000001',
          failed_at: at.toISOString(),
          incomplete: { format: 'jpeg', missing: 'the end-of-image marker (FF D9)', unchanged_ms: 600_000 },
        },
      ]);
    }
  });

  test('another failure keeps its code and says it was incomplete; a file too short to name its format says so', async () => {
    const s = store(async () => {
      throw new AppError(ErrorCode.IMAGE_TOO_LARGE, 'cam.jpg has 30 bytes, more than the limit of 20');
    });
    const outcome = await processInboxFile(
      file({ format: undefined, missing: 'the rest of the file signature', unchangedMs: 1500 }),
      { store: s.store, submitter: answering(null), now: () => at },
      signal,
    );
    assert.equal(outcome.status === 'failed' && outcome.code, 'IMAGE_TOO_LARGE');
    assert.equal(
      s.failures[0]!.message,
      'incomplete upload: the file lacks the rest of the file signature and did not change for 1.5 s, so it was taken as it was; cam.jpg has 30 bytes, more than the limit of 20',
    );
    assert.deepEqual(s.failures[0]!.incomplete, { format: null, missing: 'the rest of the file signature', unchanged_ms: 1500 });
  });

  test('one that decodes after all (data appended after the image) is done', async () => {
    const s = store(bytes);
    const outcome = await processInboxFile(file(incomplete), { store: s.store, submitter: answering(null), now: () => at }, signal);
    assert.deepEqual(outcome, { status: 'done', movedTo: 'done/cam.jpg', imageId: 'img-1' });
    assert.deepEqual(s.failures, []);
  });

  test("a complete file's failure record is unchanged: no incomplete field", async () => {
    const s = store(bytes);
    await processInboxFile(file(), { store: s.store, submitter: answering({ code: 'IMAGE_CORRUPT', message: 'bad' }), now: () => at }, signal);
    assert.deepEqual(Object.keys(s.failures[0]!).sort(), ['code', 'event_id', 'failed_at', 'image_id', 'message']);
  });
});
