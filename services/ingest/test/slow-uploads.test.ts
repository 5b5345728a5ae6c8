import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { FakeMatcher, fixture, imageIdOf, names, recordingLog, startHarness, tempDir, until, writeInParts } from './helpers.js';

// Medium: uploads written in place with pauses (issue #13), on a real temp folder with the real
// in-process bus and a fake matcher that rejects cut-short images as the real decoder does. The
// writers pause on purpose (that is the behaviour under test); every assertion waits on a state of
// the folder or of the matcher, bounded, never on a duration.

const subfolders = ['.processing', 'done', 'failed'];
const stableMs = 200;
/** Pauses three times longer than INBOX_STABLE_MS: each used to end the upload there. */
const pauseMs = 3 * stableMs;
const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');
const heldBackWarning = 'inbox file looks incomplete and has stopped growing; waiting for the rest';
const takenIncompleteWarning = 'inbox file still incomplete after the limit; taking it as it is';

describe('slow uploads into the inbox', () => {
  test('a JPEG written in place in 3 parts with pauses longer than INBOX_STABLE_MS is taken once, whole', async (t) => {
    const { dir: inbox, remove } = tempDir('facewatch-inbox-slow-jpeg-');
    t.after(remove);
    const { log, warnings } = recordingLog();
    const h = await startHarness({ inboxDir: inbox, stableMs, log });
    t.after(() => h.stop());
    const photo = readFileSync(fixture('groups', 'bbt2.jpg'));

    await writeInParts(join(inbox, 'camera-1.jpg'), photo, {
      parts: 3,
      pauseMs,
      // at the end of each pause the part written so far is still in the inbox, untouched
      beforeNextPart: (written) => {
        assert.equal(readFileSync(join(inbox, 'camera-1.jpg')).length, written);
        assert.equal(h.matcher.received.length, 0);
      },
    });

    await until(() => names(join(inbox, 'done')).includes('camera-1.jpg'), 'camera-1.jpg is done');
    await h.bus.drain();
    assert.equal(h.matcher.received.length, 1, 'published once');
    const [only] = h.matcher.received;
    assert.equal(only!.event.identifier, 'camera-1.jpg');
    assert.equal(only!.event.sha256, sha256(photo));
    assert.deepEqual(only!.bytes, photo);
    assert.deepEqual(readFileSync(join(inbox, 'done', 'camera-1.jpg')), photo);
    assert.deepEqual(names(join(inbox, 'failed')), []);
    assert.deepEqual(names(join(inbox, '.processing')), []);
    assert.deepEqual(names(inbox), subfolders);
    assert.deepEqual(warnings, [], 'pauses far below the limit are not reported');
  });

  test('a PNG uploaded in 3 parts, the file reopened for each (an FTP resume), is taken once, whole', async (t) => {
    const { dir: inbox, remove } = tempDir('facewatch-inbox-slow-png-');
    t.after(remove);
    const h = await startHarness({ inboxDir: inbox, stableMs });
    t.after(() => h.stop());
    const photo = readFileSync(fixture('identities', 'raj', 'raj1.png'));

    await writeInParts(join(inbox, 'camera-2.png'), photo, {
      parts: 3,
      pauseMs,
      reopen: true,
      beforeNextPart: (written) => {
        assert.equal(readFileSync(join(inbox, 'camera-2.png')).length, written);
        assert.equal(h.matcher.received.length, 0);
      },
    });

    await until(() => names(join(inbox, 'done')).includes('camera-2.png'), 'camera-2.png is done');
    await h.bus.drain();
    assert.equal(h.matcher.received.length, 1, 'published once');
    assert.deepEqual(h.matcher.received[0]!.bytes, photo);
    assert.deepEqual(names(join(inbox, 'done')), ['camera-2.png']);
    assert.deepEqual(names(join(inbox, 'failed')), []);
    assert.deepEqual(names(inbox), subfolders);
  });

  test('an upload that stalls long enough to be reported, then completes, is still one upload', async (t) => {
    const { dir: inbox, remove } = tempDir('facewatch-inbox-stall-');
    t.after(remove);
    const { log, warnings } = recordingLog();
    // reported after half the limit (3 s without growth), leaving 3 s to write the rest
    const h = await startHarness({ inboxDir: inbox, stableMs, incompleteMs: 6000, log });
    t.after(() => h.stop());
    const photo = readFileSync(fixture('groups', 'bbt3.jpg'));
    const half = Math.round(photo.length / 2);

    writeFileSync(join(inbox, 'stalled.jpg'), photo.subarray(0, half));
    await until(() => warnings.some((w) => w.msg === heldBackWarning), 'the stalled upload is reported');
    assert.deepEqual(names(inbox), [...subfolders, 'stalled.jpg'].sort(), 'still in the inbox when reported');
    assert.equal(h.matcher.received.length, 0);
    const [warning] = warnings;
    assert.equal(warning!.fields['file'], 'stalled.jpg');
    assert.equal(warning!.fields['format'], 'jpeg');
    assert.equal(warning!.fields['missing'], 'the end-of-image marker (FF D9)');
    assert.ok((warning!.fields['unchangedMs'] as number) >= 3000);
    // the rest arrives
    writeFileSync(join(inbox, 'stalled.jpg'), photo.subarray(half), { flag: 'a' });

    await until(() => names(join(inbox, 'done')).includes('stalled.jpg'), 'stalled.jpg is done');
    await h.bus.drain();
    assert.equal(h.matcher.received.length, 1);
    assert.deepEqual(h.matcher.received[0]!.bytes, photo);
    assert.deepEqual(names(join(inbox, 'failed')), []);
    assert.deepEqual(
      warnings.map((w) => w.msg),
      [heldBackWarning],
      'reported once, never taken as incomplete',
    );
  });

  test('an upload that never completes is reported, then taken after INBOX_INCOMPLETE_MS and fails saying it was incomplete', async (t) => {
    const { dir: inbox, remove } = tempDir('facewatch-inbox-never-');
    t.after(remove);
    const incompleteMs = 1500;
    const inInboxAtWarning: boolean[] = [];
    const { log, warnings } = recordingLog(() => inInboxAtWarning.push(existsSync(join(inbox, 'cut.jpg'))));
    const h = await startHarness({ inboxDir: inbox, stableMs, incompleteMs, log });
    t.after(() => h.stop());
    const partial = readFileSync(fixture('groups', 'bbt2.jpg')).subarray(0, 60_000);
    writeFileSync(join(inbox, 'cut.jpg'), partial);

    // the record is written just before the failure is logged
    await until(() => names(join(inbox, 'failed')).includes('cut.jpg.error.json') && warnings.length >= 3, 'cut.jpg failed and it is logged');
    assert.deepEqual(names(join(inbox, 'failed')), ['cut.jpg', 'cut.jpg.error.json']);
    assert.deepEqual(readFileSync(join(inbox, 'failed', 'cut.jpg')), partial, 'kept as it was');
    const record = JSON.parse(readFileSync(join(inbox, 'failed', 'cut.jpg.error.json'), 'utf8'));
    assert.equal(record.code, 'IMAGE_CORRUPT');
    assert.match(
      record.message,
      /^incomplete upload: the JPEG file lacks the end-of-image marker \(FF D9\) and did not change for \d+(\.\d)? s, so it was taken as it was; the image could not be decoded: VipsJpeg: premature end of JPEG image$/,
    );
    assert.equal(record.incomplete.format, 'jpeg');
    assert.equal(record.incomplete.missing, 'the end-of-image marker (FF D9)');
    assert.ok(record.incomplete.unchanged_ms >= incompleteMs, `taken after ${record.incomplete.unchanged_ms} ms unchanged`);
    assert.equal(record.image_id, imageIdOf(partial));
    assert.equal(h.matcher.received.length, 1, 'published once');
    assert.equal(record.event_id, h.matcher.received[0]!.event.event_id);
    // reported while held back, then when taken
    assert.deepEqual(
      warnings.map((w) => [w.msg, w.fields['file']]),
      [
        [heldBackWarning, 'cut.jpg'],
        [takenIncompleteWarning, 'cut.jpg'],
        ['inbox file failed', 'cut.jpg'],
      ],
    );
    assert.deepEqual(inInboxAtWarning.slice(0, 2), [true, true], 'not claimed before it was taken');
    assert.ok((warnings[1]!.fields['unchangedMs'] as number) >= incompleteMs);
    assert.deepEqual(names(join(inbox, 'done')), []);
    assert.deepEqual(names(inbox), subfolders);
  });

  test('a complete JPEG that only looks incomplete (data after its end marker) is processed after the limit, not lost', async (t) => {
    const { dir: inbox, remove } = tempDir('facewatch-inbox-trailer-');
    t.after(remove);
    const { log, warnings } = recordingLog();
    const h = await startHarness({ inboxDir: inbox, stableMs, incompleteMs: 1000, log });
    t.after(() => h.stop());
    // as phones append a motion photo's video after the picture
    const photo = Buffer.concat([readFileSync(fixture('expressions', 'happy.jpg')), Buffer.from('ftypmp42 appended video')]);
    writeFileSync(join(inbox, 'motion.jpg'), photo);

    await until(() => names(join(inbox, 'done')).includes('motion.jpg'), 'motion.jpg is done');
    await h.bus.drain();
    assert.equal(h.matcher.received.length, 1);
    assert.deepEqual(h.matcher.received[0]!.bytes, photo);
    assert.deepEqual(names(join(inbox, 'failed')), []);
    assert.deepEqual(
      warnings.map((w) => w.msg),
      [heldBackWarning, takenIncompleteWarning],
    );
  });

  test('128 real photos dropped at once, half of them by slow writers with pauses, are each processed once', async (t) => {
    const { dir: inbox, remove } = tempDir('facewatch-inbox-many-');
    t.after(remove);
    const h = await startHarness({ inboxDir: inbox, stableMs, concurrency: 4 }, new FakeMatcher(5));
    t.after(() => h.stop());
    const sources = [
      ...readdirSync(fixture('expressions')).map((f) => fixture('expressions', f)),
      ...['amy', 'howard', 'penny', 'raj'].flatMap((p) => readdirSync(fixture('identities', p)).map((f) => fixture('identities', p, f))),
    ].filter((f) => /\.(jpe?g|png)$/.test(f));
    const photos = Array.from({ length: 128 }, (_, i) => {
      const source = sources[i % sources.length]!;
      const name = `drop-${String(i).padStart(3, '0')}${source.slice(source.lastIndexOf('.'))}`;
      return { name, bytes: readFileSync(source) };
    });

    await Promise.all(
      photos.map(async ({ name, bytes }, i) => {
        if (i % 2 === 0) writeFileSync(join(inbox, name), bytes);
        else await writeInParts(join(inbox, name), bytes, { parts: 2, pauseMs, reopen: i % 4 === 1 });
      }),
    );

    await until(() => names(join(inbox, 'done')).length === 128, '128 files are done', 60_000);
    await h.bus.drain();
    assert.equal(h.matcher.received.length, 128, 'one publish per file');
    assert.deepEqual(h.matcher.identifiers(), photos.map((p) => p.name).sort());
    assert.equal(new Set(h.matcher.received.map((r) => r.event.event_id)).size, 128, 'one event id per file');
    for (const { name, bytes } of photos) {
      const received = h.matcher.received.find((r) => r.event.identifier === name)!;
      assert.equal(received.event.sha256, sha256(bytes), `${name} was published whole`);
    }
    assert.deepEqual(names(join(inbox, 'done')), photos.map((p) => p.name).sort());
    assert.deepEqual(names(join(inbox, 'failed')), []);
    assert.deepEqual(names(join(inbox, '.processing')), []);
    assert.deepEqual(names(inbox), subfolders);
  });
});
