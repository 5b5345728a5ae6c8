import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { AppError, ErrorCode } from '@facewatch/core';
import { readAllowedPath, resolveImageInput, type ImageSourcePolicy } from '@facewatch/image-source';

// Medium: server paths against a real temp folder with real symbolic links.
//   <work>/root/           the allowed root
//   <work>/root/photo.jpg  an allowed file
//   <work>/outside/        a folder next to it, with secret.jpg
const work = realpathSync(mkdtempSync(join(tmpdir(), 'facewatch-image-path-')));
after(() => rmSync(work, { recursive: true, force: true }));
const root = join(work, 'root');
const outside = join(work, 'outside');
mkdirSync(join(root, 'album'), { recursive: true });
mkdirSync(outside);
const photo = Buffer.from('JPEG-ish bytes of an allowed photo');
writeFileSync(join(root, 'photo.jpg'), photo);
writeFileSync(join(root, 'album', 'nested.jpg'), Buffer.from('nested'));
writeFileSync(join(root, 'big.jpg'), Buffer.alloc(2048, 1));
writeFileSync(join(outside, 'secret.jpg'), Buffer.from('secret'));
symlinkSync(join(outside, 'secret.jpg'), join(root, 'escape.jpg'));
symlinkSync(outside, join(root, 'outside-link'));
symlinkSync(join(root, 'photo.jpg'), join(root, 'inside-link.jpg'));
// the root itself reached through a link: still the same real folder
symlinkSync(root, join(work, 'root-link'));

const policy: ImageSourcePolicy = {
  maxBytes: 1024,
  pathRoots: [root],
  url: { allowPrivate: false, allowedHosts: [], timeoutMs: 1000, maxRedirects: 3 },
};

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof AppError, `expected an AppError, got ${String(err)}`);
    return err.code;
  }
  assert.fail('expected a rejection');
}

describe('readAllowedPath', () => {
  test('a file inside the root is read', async () => {
    const image = await readAllowedPath(join(root, 'photo.jpg'), policy);
    assert.deepEqual(Buffer.from(image.bytes), photo);
    assert.equal(image.realPath, join(root, 'photo.jpg'));
    assert.deepEqual(Buffer.from((await readAllowedPath(join(root, 'album', 'nested.jpg'), policy)).bytes), Buffer.from('nested'));
  });

  test('a link that stays inside the root is followed', async () => {
    const image = await readAllowedPath(join(root, 'inside-link.jpg'), policy);
    assert.deepEqual(Buffer.from(image.bytes), photo);
    assert.equal(image.realPath, join(root, 'photo.jpg'));
    // and the root reached through a link to it
    assert.deepEqual(Buffer.from((await readAllowedPath(join(work, 'root-link', 'photo.jpg'), { ...policy, pathRoots: [join(work, 'root-link')] })).bytes), photo);
  });

  test('`..` out of the root is PATH_NOT_ALLOWED', async () => {
    assert.equal(await codeOf(readAllowedPath(join(root, '..', 'outside', 'secret.jpg'), policy)), ErrorCode.PATH_NOT_ALLOWED);
    assert.equal(await codeOf(readAllowedPath(`${root}/album/../../outside/secret.jpg`, policy)), ErrorCode.PATH_NOT_ALLOWED);
    assert.equal(await codeOf(readAllowedPath('/etc/passwd', policy)), ErrorCode.PATH_NOT_ALLOWED);
    // a sibling whose name starts like the root is not inside it
    assert.equal(await codeOf(readAllowedPath(`${root}-other/x.jpg`, policy)), ErrorCode.PATH_NOT_ALLOWED);
  });

  test('symbolic links out of the root are PATH_NOT_ALLOWED', async () => {
    assert.equal(await codeOf(readAllowedPath(join(root, 'escape.jpg'), policy)), ErrorCode.PATH_NOT_ALLOWED);
    assert.equal(await codeOf(readAllowedPath(join(root, 'outside-link', 'secret.jpg'), policy)), ErrorCode.PATH_NOT_ALLOWED);
    // a missing file behind an escaping link does not reveal whether it exists
    assert.equal(await codeOf(readAllowedPath(join(root, 'outside-link', 'missing.jpg'), policy)), ErrorCode.PATH_NOT_ALLOWED);
  });

  test('a missing file is IMAGE_NOT_FOUND', async () => {
    assert.equal(await codeOf(readAllowedPath(join(root, 'missing.jpg'), policy)), ErrorCode.IMAGE_NOT_FOUND);
    assert.equal(await codeOf(readAllowedPath(join(root, 'no-such-folder', 'missing.jpg'), policy)), ErrorCode.IMAGE_NOT_FOUND);
  });

  test('a folder is INVALID_ARGUMENT', async () => {
    assert.equal(await codeOf(readAllowedPath(join(root, 'album'), policy)), ErrorCode.INVALID_ARGUMENT);
    assert.equal(await codeOf(readAllowedPath(root, policy)), ErrorCode.INVALID_ARGUMENT);
  });

  test('a file larger than maxBytes is IMAGE_TOO_LARGE', async () => {
    assert.equal(await codeOf(readAllowedPath(join(root, 'big.jpg'), policy)), ErrorCode.IMAGE_TOO_LARGE);
    assert.equal((await readAllowedPath(join(root, 'big.jpg'), { ...policy, maxBytes: 2048 })).bytes.length, 2048);
  });

  test('no roots refuses every path, even an existing one', async () => {
    assert.equal(await codeOf(readAllowedPath(join(root, 'photo.jpg'), { ...policy, pathRoots: [] })), ErrorCode.PATH_NOT_ALLOWED);
  });

  test('resolveImageInput reads an allowed path as kind path', async () => {
    const image = await resolveImageInput(join(root, 'photo.jpg'), policy);
    assert.equal(image.kind, 'path');
    assert.equal(image.identifier, join(root, 'photo.jpg'));
    assert.deepEqual(Buffer.from(image.bytes), photo);
    assert.equal(await codeOf(resolveImageInput(join(root, 'escape.jpg'), policy)), ErrorCode.PATH_NOT_ALLOWED);
  });
});
