import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, symlinkSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { FakeMatcher, imageIdOf, names, startHarness, tempDir, until } from './helpers.js';

// Medium: the inbox watcher on a real temp folder with the real in-process bus; a fake matcher
// answers on the bus. Waits are bounded polls on the folder's state, never durations.

const subfolders = ['.processing', 'done', 'failed'];

describe('inbox watcher', () => {
  test('a file written slowly in chunks is published once, with all its bytes', async (t) => {
    const { dir: inbox, remove } = tempDir('facewatch-inbox-slow-');
    t.after(remove);
    const h = await startHarness({ inboxDir: inbox, stableMs: 1000 });
    t.after(() => h.stop());
    const chunks = [0, 1, 2, 3, 4].map((i) => Buffer.alloc(4096, 65 + i));
    const file = await open(join(inbox, 'slow.jpg'), 'w');
    for (const chunk of chunks) {
      await file.write(chunk);
      await sleep(300);
    }
    await file.close();
    const whole = Buffer.concat(chunks);

    await until(() => names(join(inbox, 'done')).includes('slow.jpg'), 'slow.jpg is done');
    assert.equal(h.matcher.received.length, 1);
    const [only] = h.matcher.received;
    assert.deepEqual(only!.bytes, whole);
    assert.equal(only!.event.identifier, 'slow.jpg');
    assert.equal(only!.event.source, 'inbox');
    assert.equal(only!.event.sha256, createHash('sha256').update(whole).digest('hex'));
    assert.match(only!.event.event_id, /^[0-9a-f-]{36}$/);
    assert.deepEqual(readFileSync(join(inbox, 'done', 'slow.jpg')), whole);
    assert.deepEqual(names(inbox), subfolders);
    assert.deepEqual(names(join(inbox, '.processing')), []);
    assert.deepEqual(names(join(inbox, 'failed')), []);
  });

  test('a file renamed into place is published once', async (t) => {
    const { dir: inbox, remove } = tempDir('facewatch-inbox-rename-');
    t.after(remove);
    const h = await startHarness({ inboxDir: inbox });
    t.after(() => h.stop());
    const content = Buffer.from('a complete photo');
    // written under an ignored name in the inbox itself, then renamed
    writeFileSync(join(inbox, 'photo.jpg.part'), content);
    renameSync(join(inbox, 'photo.jpg.part'), join(inbox, 'photo.jpg'));
    // and one written elsewhere, then moved in
    const { dir: staging, remove: removeStaging } = tempDir('facewatch-inbox-staging-');
    t.after(removeStaging);
    writeFileSync(join(staging, 'moved.jpg'), Buffer.from('another photo'));
    renameSync(join(staging, 'moved.jpg'), join(inbox, 'moved.jpg'));

    await until(() => names(join(inbox, 'done')).length === 2, 'both files are done');
    assert.deepEqual(h.matcher.identifiers(), ['moved.jpg', 'photo.jpg']);
    assert.deepEqual(h.matcher.received.find((r) => r.event.identifier === 'photo.jpg')!.bytes, content);
    assert.deepEqual(names(join(inbox, 'done')), ['moved.jpg', 'photo.jpg']);
    assert.deepEqual(names(inbox), subfolders);
  });

  test('20 files dropped at once: 20 publishes, all done, at most `concurrency` in flight', async (t) => {
    const { dir: inbox, remove } = tempDir('facewatch-inbox-burst-');
    t.after(remove);
    const h = await startHarness({ inboxDir: inbox, concurrency: 4 }, new FakeMatcher(30));
    t.after(() => h.stop());
    const expected = Array.from({ length: 20 }, (_, i) => `burst-${String(i).padStart(2, '0')}.jpg`);
    for (const name of expected) writeFileSync(join(inbox, name), Buffer.from(`photo ${name}`));

    await until(() => names(join(inbox, 'done')).length === 20, '20 files are done');
    await h.bus.drain();
    assert.equal(h.matcher.received.length, 20);
    assert.deepEqual(h.matcher.identifiers(), expected);
    assert.equal(new Set(h.matcher.received.map((r) => r.event.event_id)).size, 20, 'one event id per file');
    assert.ok(h.matcher.maxPending >= 1 && h.matcher.maxPending <= 4, `at most 4 in flight, saw ${h.matcher.maxPending}`);
    assert.deepEqual(names(join(inbox, 'done')), expected);
    for (const name of expected) assert.equal(readFileSync(join(inbox, 'done', name), 'utf8'), `photo ${name}`);
    assert.deepEqual(names(join(inbox, 'failed')), []);
    assert.deepEqual(names(join(inbox, '.processing')), []);
    assert.deepEqual(names(inbox), subfolders);
  });

  test('an error result moves the file to failed/ with an .error.json', async (t) => {
    const { dir: inbox, remove } = tempDir('facewatch-inbox-error-');
    t.after(remove);
    const h = await startHarness({ inboxDir: inbox });
    t.after(() => h.stop());
    const bad = Buffer.from('BAD bytes, no image');
    writeFileSync(join(inbox, 'bad.jpg'), bad);
    writeFileSync(join(inbox, 'good.jpg'), Buffer.from('good'));

    await until(() => names(join(inbox, 'failed')).includes('bad.jpg.error.json') && names(join(inbox, 'done')).includes('good.jpg'), 'bad.jpg failed and good.jpg done');
    assert.deepEqual(names(join(inbox, 'failed')), ['bad.jpg', 'bad.jpg.error.json']);
    assert.deepEqual(names(join(inbox, 'done')), ['good.jpg']);
    assert.deepEqual(readFileSync(join(inbox, 'failed', 'bad.jpg')), bad);
    const record = JSON.parse(readFileSync(join(inbox, 'failed', 'bad.jpg.error.json'), 'utf8'));
    const published = h.matcher.received.find((r) => r.event.identifier === 'bad.jpg')!;
    assert.deepEqual(Object.keys(record).sort(), ['code', 'event_id', 'failed_at', 'image_id', 'message']);
    assert.equal(record.code, 'IMAGE_UNSUPPORTED_FORMAT');
    assert.equal(record.message, 'not an image');
    assert.equal(record.image_id, imageIdOf(bad));
    assert.equal(record.event_id, published.event.event_id);
    assert.equal(new Date(record.failed_at).toISOString(), record.failed_at);
    assert.deepEqual(names(inbox), subfolders);
  });

  test('a file too large to publish fails without reaching the matcher', async (t) => {
    const { dir: inbox, remove } = tempDir('facewatch-inbox-large-');
    t.after(remove);
    const h = await startHarness({ inboxDir: inbox, maxInlineBytes: 100 });
    t.after(() => h.stop());
    writeFileSync(join(inbox, 'huge.jpg'), Buffer.alloc(101, 1));

    await until(() => names(join(inbox, 'failed')).includes('huge.jpg.error.json'), 'huge.jpg failed');
    assert.deepEqual(names(join(inbox, 'failed')), ['huge.jpg', 'huge.jpg.error.json']);
    const record = JSON.parse(readFileSync(join(inbox, 'failed', 'huge.jpg.error.json'), 'utf8'));
    assert.equal(record.code, 'IMAGE_TOO_LARGE');
    assert.equal(record.image_id, null);
    assert.match(record.event_id, /^[0-9a-f-]{36}$/);
    assert.equal(h.matcher.received.length, 0);
  });

  test('a name already in done/ gets a suffix; nothing is overwritten', async (t) => {
    const { dir: inbox, remove } = tempDir('facewatch-inbox-names-');
    t.after(remove);
    const h = await startHarness({ inboxDir: inbox });
    t.after(() => h.stop());
    for (const [i, content] of ['first', 'second', 'third'].entries()) {
      writeFileSync(join(inbox, 'same.jpg'), content);
      await until(() => names(join(inbox, 'done')).length === i + 1, `copy ${i + 1} of same.jpg is done`);
    }
    assert.deepEqual(names(join(inbox, 'done')), ['same-1.jpg', 'same-2.jpg', 'same.jpg']);
    assert.equal(readFileSync(join(inbox, 'done', 'same.jpg'), 'utf8'), 'first');
    assert.equal(readFileSync(join(inbox, 'done', 'same-1.jpg'), 'utf8'), 'second');
    assert.equal(readFileSync(join(inbox, 'done', 'same-2.jpg'), 'utf8'), 'third');
    assert.equal(h.matcher.received.length, 3);
  });

  test('on start, files left in .processing/ go first, then files already in the inbox', async (t) => {
    const { dir: inbox, remove } = tempDir('facewatch-inbox-restart-');
    t.after(remove);
    mkdirSync(join(inbox, '.processing'), { recursive: true });
    const crashedId = randomUUID();
    writeFileSync(join(inbox, '.processing', `${crashedId}__crashed.jpg`), 'claimed before a crash');
    writeFileSync(join(inbox, 'waiting-1.jpg'), 'dropped while stopped');
    writeFileSync(join(inbox, 'waiting-2.jpg'), 'also dropped while stopped');

    const h = await startHarness({ inboxDir: inbox });
    t.after(() => h.stop());
    await until(() => names(join(inbox, 'done')).length === 3, 'the three files are done');
    assert.deepEqual(names(join(inbox, 'done')), ['crashed.jpg', 'waiting-1.jpg', 'waiting-2.jpg']);
    assert.equal(h.matcher.received.length, 3);
    assert.equal(h.matcher.received[0]!.event.identifier, 'crashed.jpg', 'the claimed file goes first');
    assert.equal(h.matcher.received[0]!.event.event_id, crashedId, 'under the event id it was claimed with');
    assert.equal(readFileSync(join(inbox, 'done', 'crashed.jpg'), 'utf8'), 'claimed before a crash');
    assert.deepEqual(names(join(inbox, '.processing')), []);
    assert.deepEqual(names(inbox), subfolders);
  });

  test('ignored names, sub-folders and links are left alone', async (t) => {
    const { dir: inbox, remove } = tempDir('facewatch-inbox-ignored-');
    t.after(remove);
    const { dir: elsewhere, remove: removeElsewhere } = tempDir('facewatch-inbox-elsewhere-');
    t.after(removeElsewhere);
    const ignored = ['.hidden.jpg', 'copy.tmp', 'download.part', 'chrome.crdownload', 'UPPER.PART'];
    for (const name of ignored) writeFileSync(join(inbox, name), 'not for us');
    mkdirSync(join(inbox, 'sub'));
    writeFileSync(join(inbox, 'sub', 'inner.jpg'), 'too deep');
    mkdirSync(join(inbox, 'done'));
    writeFileSync(join(inbox, 'done', 'by-hand.jpg'), 'put in done/ by hand');
    writeFileSync(join(elsewhere, 'target.jpg'), 'outside');
    symlinkSync(join(elsewhere, 'target.jpg'), join(inbox, 'link.jpg'));

    const h = await startHarness({ inboxDir: inbox });
    t.after(() => h.stop());
    // more ignored files while watching, then a real one: once it is done, the others had their chance
    writeFileSync(join(inbox, 'late.tmp'), 'not for us');
    writeFileSync(join(inbox, '.late-hidden'), 'not for us');
    writeFileSync(join(inbox, 'sub', 'late-inner.jpg'), 'too deep');
    writeFileSync(join(inbox, 'marker.jpg'), 'the only real file');
    await until(() => names(join(inbox, 'done')).includes('marker.jpg'), 'marker.jpg is done');
    await h.bus.drain();

    assert.deepEqual(h.matcher.identifiers(), ['marker.jpg']);
    assert.deepEqual(names(inbox), [...ignored, '.late-hidden', ...subfolders, 'late.tmp', 'link.jpg', 'sub'].sort());
    assert.deepEqual(names(join(inbox, 'sub')), ['inner.jpg', 'late-inner.jpg']);
    assert.deepEqual(names(join(inbox, 'done')), ['by-hand.jpg', 'marker.jpg']);
    assert.deepEqual(names(join(inbox, 'failed')), []);
  });

  test('close() with a file in flight leaves it in .processing/ for the next start', async (t) => {
    const { dir: inbox, remove } = tempDir('facewatch-inbox-close-');
    t.after(remove);
    const first = await startHarness({ inboxDir: inbox, concurrency: 1, closeGraceMs: 200 });
    let firstStopped = false;
    t.after(() => (firstStopped ? undefined : first.stop()));
    writeFileSync(join(inbox, 'hang.jpg'), 'HANG: the matcher never answers this one');
    await until(() => first.matcher.received.length === 1, 'hang.jpg is published');
    // the one slot is taken, so this one cannot be claimed before close
    writeFileSync(join(inbox, 'queued.jpg'), 'waits for a free slot');
    await first.stop();
    firstStopped = true;

    const eventId = first.matcher.received[0]!.event.event_id;
    assert.deepEqual(names(join(inbox, '.processing')), [`${eventId}__hang.jpg`]);
    assert.deepEqual(names(join(inbox, 'done')), []);
    assert.deepEqual(names(join(inbox, 'failed')), []);
    assert.deepEqual(names(inbox), [...subfolders, 'queued.jpg'].sort());

    // next start, with a matcher that answers: both are processed, the claimed one first
    const matcher = new FakeMatcher();
    matcher.hang = false;
    const second = await startHarness({ inboxDir: inbox, concurrency: 1 }, matcher);
    t.after(() => second.stop());
    await until(() => names(join(inbox, 'done')).length === 2, 'both files are done');
    assert.deepEqual(matcher.identifiers(), ['hang.jpg', 'queued.jpg']);
    assert.equal(matcher.received[0]!.event.identifier, 'hang.jpg');
    assert.equal(matcher.received[0]!.event.event_id, eventId);
    assert.deepEqual(names(join(inbox, 'done')), ['hang.jpg', 'queued.jpg']);
    assert.deepEqual(names(join(inbox, '.processing')), []);
    assert.deepEqual(names(inbox), subfolders);
  });
});
