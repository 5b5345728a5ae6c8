import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { AppError, ErrorCode } from '@facewatch/core';
import { decodeBase64Image, maxEncodedLength } from './base64-image.js';
import { isAllowListed, type ImageSourcePolicy } from './policy.js';
import { classifyImageInput, resolveImageInput } from './resolve-image-input.js';

// No I/O: every case here is decided before a file is opened or a socket connected.

const png = Buffer.from(
  '89504e470d0a1a0a0000000d4948445200000001000000010806000000' + '1f15c4890000000d49444154789c6360f8cfc0f01f0005000201a5f6d1a40000000049454e44ae426082',
  'hex',
);
const pngBase64 = png.toString('base64');

const policy: ImageSourcePolicy = {
  maxBytes: 1024,
  pathRoots: [],
  url: { allowPrivate: false, allowedHosts: [], timeoutMs: 1000, maxRedirects: 3 },
};

async function rejection(promise: Promise<unknown>): Promise<AppError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof AppError, `expected an AppError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected a rejection');
}

function thrown(fn: () => unknown): AppError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof AppError, `expected an AppError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected an error');
}

describe('classifyImageInput', () => {
  const cases: readonly (readonly [string, string])[] = [
    [`data:image/png;base64,${pngBase64}`, 'data-uri'],
    ['DATA:image/jpeg;base64,AAAA', 'data-uri'],
    ['data:text/plain,hello', 'data-uri'],
    ['http://example.com/a.jpg', 'url'],
    ['HTTPS://example.com/a.jpg', 'url'],
    ['ftp://example.com/a.jpg', 'url'],
    ['file:///etc/passwd', 'url'],
    ['file:/etc/passwd', 'url'],
    [pngBase64, 'base64'],
    [`  ${pngBase64.slice(0, 40)}\n${pngBase64.slice(40)}\n`, 'base64'],
    ['/9j/' + 'A'.repeat(96), 'base64'], // how JPEG base64 starts
    ['/srv/photos/alice.jpg', 'path'],
    ['photos/bob.png', 'path'],
    ['../etc/passwd', 'path'],
    ['C:\\photos\\carol.jpg', 'path'], // a drive letter is not a URL scheme
    ['/short/path/without/extension', 'path'], // under 64 characters
    [`/srv/${'a'.repeat(70)}.jpg`, 'path'], // the dot is outside the base64 alphabet
    ['./' + 'A'.repeat(80), 'path'],
  ];
  for (const [input, expected] of cases) {
    test(`${JSON.stringify(input.length > 50 ? `${input.slice(0, 47)}...` : input)} is ${expected}`, () => {
      assert.equal(classifyImageInput(input), expected);
    });
  }
});

describe('decodeBase64Image', () => {
  test('data URIs and bare base64 decode to the same bytes', () => {
    assert.deepEqual(Buffer.from(decodeBase64Image(`data:image/png;base64,${pngBase64}`, 1024)), png);
    assert.deepEqual(Buffer.from(decodeBase64Image(pngBase64, 1024)), png);
    const wrapped = pngBase64.replace(/(.{20})/g, '$1\r\n');
    assert.deepEqual(Buffer.from(decodeBase64Image(wrapped, 1024)), png);
    assert.deepEqual(Buffer.from(decodeBase64Image(png.toString('base64url'), 1024)), png);
  });

  test('the returned bytes own their memory', () => {
    const bytes = decodeBase64Image(pngBase64, 1024);
    assert.equal(bytes.byteOffset, 0);
    assert.equal(bytes.buffer.byteLength, png.length);
  });

  test('the encoded length is limited before decoding', () => {
    const maxBytes = 300;
    assert.equal(maxEncodedLength(maxBytes), 404);
    const atLimit = 'A'.repeat(400);
    assert.equal(decodeBase64Image(atLimit, maxBytes).length, 300);
    const err = thrown(() => decodeBase64Image('A'.repeat(408), maxBytes));
    assert.equal(err.code, ErrorCode.PAYLOAD_TOO_LARGE);
    assert.deepEqual(err.details, { characters: 408, maxCharacters: 404 });
    // invalid characters beyond the limit: too large wins, nothing is scanned or decoded
    assert.equal(thrown(() => decodeBase64Image(`data:image/png;base64,${'!'.repeat(10_000)}`, maxBytes)).code, ErrorCode.PAYLOAD_TOO_LARGE);
  });

  test('decoded bytes beyond maxBytes are IMAGE_TOO_LARGE', () => {
    // 404 characters decode to 303 bytes: inside the encoded slack, over the byte limit
    assert.equal(thrown(() => decodeBase64Image('A'.repeat(404), 300)).code, ErrorCode.IMAGE_TOO_LARGE);
  });

  test('invalid base64 is INVALID_ARGUMENT', () => {
    for (const bad of ['abc$def', 'AAAA=AAA', 'AAAAA', 'AA===', 'data:image/png;base64,@@@@']) {
      assert.equal(thrown(() => decodeBase64Image(bad, 1024)).code, ErrorCode.INVALID_ARGUMENT, bad);
    }
  });

  test('a data URI must be a base64 image', () => {
    assert.equal(thrown(() => decodeBase64Image('data:text/plain;base64,aGVsbG8=', 1024)).code, ErrorCode.INVALID_ARGUMENT);
    assert.equal(thrown(() => decodeBase64Image('data:image/png,rawbytes', 1024)).code, ErrorCode.INVALID_ARGUMENT);
    assert.equal(thrown(() => decodeBase64Image('data:image/png;base64,', 1024)).code, ErrorCode.IMAGE_EMPTY);
  });
});

describe('isAllowListed', () => {
  const list = ['images.example.com', 'cdn.example.com:8443', '127.0.0.1:9000', '[::1]', 'fd00::5', 'fqdn.example.'];
  const cases: readonly (readonly [string, number, boolean])[] = [
    ['images.example.com', 443, true],
    ['images.example.com', 8080, true],
    ['IMAGES.example.com', 80, true],
    ['images.example.com.', 80, true],
    ['evil-images.example.com', 443, false],
    ['example.com', 443, false],
    ['cdn.example.com', 8443, true],
    ['cdn.example.com', 443, false],
    ['127.0.0.1', 9000, true],
    ['127.0.0.1', 9001, false],
    ['[::1]', 80, true],
    ['[fd00::5]', 80, true],
    ['fqdn.example', 443, true],
  ];
  for (const [host, port, expected] of cases) {
    test(`${host}:${port} ${expected ? 'is' : 'is not'} allowed`, () => assert.equal(isAllowListed(host, port, list), expected));
  }
});

describe('resolveImageInput refusals decided without I/O', () => {
  test('a data URI resolves as base64 with its media type as identifier', async () => {
    const image = await resolveImageInput(`data:image/PNG;base64,${pngBase64}`, policy);
    assert.equal(image.kind, 'base64');
    assert.equal(image.identifier, 'data:image/png;base64');
    assert.deepEqual(Buffer.from(image.bytes), png);
    const bare = await resolveImageInput(pngBase64, policy);
    assert.deepEqual({ kind: bare.kind, identifier: bare.identifier }, { kind: 'base64', identifier: 'base64' });
  });

  test('schemes other than http and https are URL_NOT_ALLOWED', async () => {
    for (const url of ['ftp://example.com/a.jpg', 'file:///etc/passwd', 'file:/etc/passwd', 'gopher://example.com/', 'javascript:alert(1)']) {
      assert.equal((await rejection(resolveImageInput(url, policy))).code, ErrorCode.URL_NOT_ALLOWED, url);
    }
  });

  test('IP-literal hosts in private ranges are refused before any connection', async () => {
    for (const url of [
      'http://127.0.0.1/',
      'http://169.254.169.254/latest/meta-data/',
      'http://[::1]:8080/',
      'http://[::ffff:10.0.0.1]/',
      'http://0x7f.1/',
      'http://2130706433/',
    ]) {
      const err = await rejection(resolveImageInput(url, policy));
      assert.equal(err.code, ErrorCode.URL_NOT_ALLOWED, url);
    }
  });

  test('server paths are refused when no roots are configured', async () => {
    const err = await rejection(resolveImageInput('/etc/passwd', policy));
    assert.equal(err.code, ErrorCode.PATH_NOT_ALLOWED);
  });

  test('empty input is INVALID_ARGUMENT', async () => {
    assert.equal((await rejection(resolveImageInput('   ', policy))).code, ErrorCode.INVALID_ARGUMENT);
  });
});
