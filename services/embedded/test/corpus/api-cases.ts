import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ImageFormat, MalformedImage } from './images.js';

// The malformed-input corpus as HTTP requests, each with the answers that are right for it
// ("<status> <code>", or "200" for an image that still decodes). Built from the generated images,
// the hostile local servers and a folder of hostile paths.

export interface ApiCase {
  name: string;
  /** What part of the edge it hits (the test prints counts per category). */
  category: string;
  method: 'POST' | 'GET';
  path: string;
  headers: Record<string, string>;
  body: Buffer | string;
  /** Right answers: "422 IMAGE_CORRUPT", "200"… */
  expect: readonly string[];
}

const corrupt = ['422 IMAGE_CORRUPT', '422 IMAGE_UNSUPPORTED_FORMAT'];
const tooLarge = ['413 IMAGE_TOO_LARGE'];
const unsupported = ['422 IMAGE_UNSUPPORTED_FORMAT'];

/** Right answers for a malformed image, by how it was broken. */
export function expectedFor(image: MalformedImage): readonly string[] {
  switch (image.kind) {
    case 'truncated':
      return corrupt;
    // only the format's trailer is missing: every pixel is there, and decoding it is right
    case 'trailer-cut':
      return ['200', ...corrupt];
    // a flipped bit or a zeroed run may leave an image that still decodes (with faces or none), or a header that now claims a huge size
    case 'flipped':
    case 'zeroed':
      return ['200', ...corrupt, ...tooLarge];
    case 'magic':
      return unsupported;
    case 'huge':
    case 'bomb':
      return tooLarge;
    case 'empty':
      return ['422 IMAGE_EMPTY'];
    default:
      return corrupt;
  }
}

const json = (body: unknown): { headers: Record<string, string>; body: string } => ({ headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
const mediaType = (format: ImageFormat | 'none'): string => (format === 'none' ? 'image/jpeg' : `image/${format}`);

/** Every malformed image sent to detect-face inline: as a data URI, and as bare base64 when long enough to read as such. */
export function inlineImageCases(images: readonly MalformedImage[]): ApiCase[] {
  return images.flatMap((image) => {
    const b64 = image.bytes.toString('base64');
    const cases: ApiCase[] = [
      {
        name: `data-uri ${image.name}`,
        category: `image ${image.kind}`,
        method: 'POST',
        path: '/api/v1/detect/detect-face',
        ...json({ image: `data:${mediaType(image.format)};base64,${b64}` }),
        expect: expectedFor(image),
      },
    ];
    // shorter than 64 characters it would read as a server path (and be refused as one)
    if (b64.length >= 64)
      cases.push({
        name: `base64 ${image.name}`,
        category: `image ${image.kind}`,
        method: 'POST',
        path: '/api/v1/detect/detect-face',
        ...json({ image: b64 }),
        expect: expectedFor(image),
      });
    return cases;
  });
}

/** Broken base64 and data URIs. */
export function base64Cases(good: Buffer): ApiCase[] {
  const b64 = good.toString('base64');
  const detect = (name: string, image: unknown, expect: readonly string[]): ApiCase => ({
    name,
    category: 'base64 and data URIs',
    method: 'POST',
    path: '/api/v1/detect/detect-face',
    ...json({ image }),
    expect,
  });
  const invalid = ['422 INVALID_ARGUMENT'];
  return [
    detect('good data URI', `data:image/jpeg;base64,${b64}`, ['200']),
    detect('good base64, URL-safe alphabet', b64.replaceAll('+', '-').replaceAll('/', '_'), ['200']),
    detect('good base64, wrapped at 76', b64.replace(/(.{76})/g, '$1\n'), ['200']),
    detect('good base64 with a wrong media type', `data:image/png;base64,${b64}`, ['200']),
    detect('data URI text/plain', `data:text/plain;base64,${b64}`, invalid),
    detect('data URI without base64', `data:image/jpeg,${b64}`, invalid),
    detect('data URI without comma', `data:image/jpeg;base64${b64}`, invalid),
    detect('data URI empty', 'data:image/jpeg;base64,', ['422 IMAGE_EMPTY']),
    detect('data URI of padding', 'data:image/jpeg;base64,====', invalid),
    // an SVG without dimensions fails in the SVG loader: the decoder reports it as corrupt, not as a format it refuses
    detect('data URI, svg', `data:image/svg+xml;base64,${Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"/>').toString('base64')}`, [...unsupported, '422 IMAGE_CORRUPT']),
    // a string that is not base64 reads as a server path (docs: base64 is 64+ characters of its alphabet)
    detect('base64 with a character outside the alphabet', `${b64.slice(0, 100)}*${b64.slice(101)}`, ['403 PATH_NOT_ALLOWED']),
    detect('base64 with a length of 4n+1', `${b64}A`, ['403 PATH_NOT_ALLOWED']),
    detect('base64 with padding in the middle', `${b64.slice(0, 100)}==${b64.slice(100)}`, ['403 PATH_NOT_ALLOWED']),
    detect('base64 of unicode', `data:image/jpeg;base64,${'é'.repeat(200)}`, invalid),
    detect('base64 with NUL', `data:image/jpeg;base64,${b64.slice(0, 64)}\u0000${b64.slice(64)}`, invalid),
    detect('base64 too large for MAX_IMAGE_BYTES', `data:image/jpeg;base64,${'A'.repeat(12 * 1024 * 1024)}`, ['413 PAYLOAD_TOO_LARGE']),
    detect('base64 of whitespace', ' \n\t '.repeat(40), ['422 INVALID_ARGUMENT', '403 PATH_NOT_ALLOWED']),
    detect('image empty string', '', invalid),
    detect('image null', null, invalid),
    detect('image number', 12345, invalid),
    detect('image array', [b64], invalid),
    detect('image object', { data: b64 }, invalid),
  ];
}

/** Malformed JSON bodies and fields. */
export function jsonCases(): ApiCase[] {
  const raw = (name: string, body: string | Buffer, expect: readonly string[], contentType = 'application/json'): ApiCase => ({
    name,
    category: 'json bodies',
    method: 'POST',
    path: '/api/v1/detect/detect-face',
    headers: { 'content-type': contentType },
    body,
    expect,
  });
  const invalid = ['422 INVALID_ARGUMENT'];
  return [
    raw('not JSON', '{"image": ', invalid),
    raw('trailing garbage', '{"image": "x"} x', invalid),
    raw('a bare string', '"data:image/jpeg;base64,AAAA"', invalid),
    raw('an array', '[1, 2, 3]', invalid),
    raw('null', 'null', invalid),
    raw('deeply nested arrays', `{"image": ${'['.repeat(100_000)}${']'.repeat(100_000)}}`, invalid),
    raw('deeply nested objects', `${'{"a":'.repeat(50_000)}1${'}'.repeat(50_000)}`, invalid),
    raw('a huge number', '{"image": 1e999999}', invalid),
    raw('invalid UTF-8', Buffer.from([0x7b, 0x22, 0x69, 0x6d, 0x61, 0x67, 0x65, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d]), ['422 INVALID_ARGUMENT', '403 PATH_NOT_ALLOWED']),
    raw('BOM before JSON', `\ufeff{"image": "x"}`, invalid),
    raw('duplicate keys', '{"image": "x", "image": 5}', invalid),
    raw('__proto__ key', '{"__proto__": {"image": "x"}}', invalid),
    raw('constructor key', '{"constructor": {"prototype": {"image": "x"}}}', invalid),
    raw('wrong content type', '{"image": "x"}', invalid, 'text/plain'),
    raw('form content type', 'image=x', invalid, 'application/x-www-form-urlencoded'),
    raw('body over MAX_REQUEST_BYTES', Buffer.alloc(17 * 1024 * 1024, 0x20), ['413 PAYLOAD_TOO_LARGE']),
    raw('unknown detector', JSON.stringify({ image: 'x', detector_backend: 'retinaface' }), invalid),
    raw('detector of another type', JSON.stringify({ image: 'x', detector_backend: 7 }), invalid),
    raw('process-images: 0 images', JSON.stringify({ images: [] }), invalid),
  ].map((c, i) => (i === 18 ? { ...c, path: '/api/v1/process/process-images' } : c));
}

/** Image URLs: other schemes, loopback in every spelling, and the hostile servers' tricks. */
export function urlCases(allowed: string, forbidden: string): ApiCase[] {
  const detect = (name: string, image: string, expect: readonly string[]): ApiCase => ({
    name,
    category: 'urls',
    method: 'POST',
    path: '/api/v1/detect/detect-face',
    ...json({ image }),
    expect,
  });
  const notAllowed = ['400 URL_NOT_ALLOWED'];
  const failed = ['422 URL_FETCH_FAILED'];
  const port = forbidden.split(':').pop()!;
  return [
    detect('allowed host, good image', `${allowed}/img/good.jpg`, ['200']),
    detect('allowed host, redirect to a good image', `${allowed}/redirect/good`, ['200']),
    ...[
      forbidden,
      `http://localhost:${port}`,
      `http://LOCALHOST:${port}`,
      `http://[::1]:${port}`,
      `http://[::ffff:127.0.0.1]:${port}`,
      `http://[0:0:0:0:0:ffff:7f00:1]:${port}`,
      `http://127.1:${port}`,
      `http://127.0.0.2:${port}`,
      `http://2130706433:${port}`,
      `http://0x7f000001:${port}`,
      `http://0177.0.0.1:${port}`,
      `http://0.0.0.0:${port}`,
      `http://user:password@127.0.0.1:${port}`,
      `https://127.0.0.1:${port}`,
      `http://127.0.0.1.:${port}`,
    ].map((base, i) => detect(`loopback spelling ${i}: ${base}`, `${base}/x.jpg`, notAllowed)),
    ...[
      'file:///etc/passwd',
      'file://localhost/etc/hostname',
      'ftp://127.0.0.1/x.jpg',
      'gopher://127.0.0.1:70/_x',
      'dict://127.0.0.1:11211/stat',
      'javascript:alert(1)',
      'ws://127.0.0.1/x',
      'jar:http://127.0.0.1/x!/y',
    ].map((u) => detect(`scheme ${u.split(':')[0]}`, u, notAllowed)),
    detect('no host', 'http:///x.jpg', ['400 URL_NOT_ALLOWED', '422 INVALID_ARGUMENT', '422 URL_FETCH_FAILED']),
    detect('bad port', 'http://127.0.0.1:99999/x.jpg', ['400 URL_NOT_ALLOWED', '422 INVALID_ARGUMENT', '422 URL_FETCH_FAILED']),
    detect('very long URL', `${allowed}/img/${'a'.repeat(100_000)}`, ['422 URL_FETCH_FAILED', '422 INVALID_ARGUMENT']),
    ...['loopback', 'localhost', 'ipv6-loopback', 'mapped-loopback', 'decimal-loopback', 'file', 'ftp'].map((r) =>
      detect(`redirect to ${r}`, `${allowed}/redirect/${r}`, notAllowed),
    ),
    detect('redirect to itself', `${allowed}/redirect/self`, failed),
    detect('relative redirect loop', `${allowed}/redirect/relative-loop`, failed),
    detect('redirect without location', `${allowed}/redirect/no-location`, failed),
    detect('404', `${allowed}/status/404`, failed),
    detect('500', `${allowed}/status/500`, failed),
    detect('204 without body', `${allowed}/status/204`, [...failed, '422 IMAGE_EMPTY']),
    detect('html', `${allowed}/html`, unsupported),
    detect('no answer', `${allowed}/stall`, failed),
    detect('a body that drips', `${allowed}/slow-body`, failed),
    detect('a body without end', `${allowed}/endless`, tooLarge),
    detect('a length of a terabyte', `${allowed}/length-lie`, [...tooLarge, ...failed]),
    detect('a body shorter than its length', `${allowed}/short-body`, failed),
    detect('connection reset', `${allowed}/reset`, failed),
    detect('empty body', `${allowed}/empty`, ['422 IMAGE_EMPTY']),
    detect('truncated image', `${allowed}/img/truncated.jpg`, corrupt),
    detect('huge dimensions', `${allowed}/img/huge.png`, tooLarge),
  ];
}

/**
 * A folder of hostile paths inside an allowed root: links out of it (to a file, a folder, /proc),
 * a link loop, a FIFO, a folder, a sparse file over MAX_IMAGE_BYTES, images with the wrong
 * extension. Returns the cases that name them (and paths outside).
 */
export function pathCases(root: string, good: Record<ImageFormat, Buffer>, goodFile: string): ApiCase[] {
  mkdirSync(join(root, 'folder.jpg'), { recursive: true });
  writeFileSync(join(root, 'good.jpg'), good.jpeg);
  writeFileSync(join(root, 'png-named.jpg'), good.png);
  writeFileSync(join(root, 'webp-named.gif'), good.webp);
  writeFileSync(join(root, 'text.jpg'), 'not an image');
  writeFileSync(join(root, 'truncated.jpg'), good.jpeg.subarray(0, 500));
  writeFileSync(join(root, 'empty.jpg'), '');
  copyFileSync(goodFile, join(root, 'copy.png'));
  writeFileSync(join(root, 'sparse.jpg'), '');
  truncateSync(join(root, 'sparse.jpg'), 64 * 1024 * 1024);
  symlinkSync('/etc/hostname', join(root, 'link-out.jpg'));
  symlinkSync('/etc', join(root, 'link-dir-out'));
  symlinkSync('/proc/self/environ', join(root, 'link-proc.jpg'));
  symlinkSync(join(root, 'loop-b.jpg'), join(root, 'loop-a.jpg'));
  symlinkSync(join(root, 'loop-a.jpg'), join(root, 'loop-b.jpg'));
  symlinkSync(join(root, 'good.jpg'), join(root, 'link-in.jpg'));
  symlinkSync(join(root, 'missing.jpg'), join(root, 'dangling.jpg'));
  execFileSync('mkfifo', [join(root, 'fifo.jpg')]);
  const detect = (name: string, image: string, expect: readonly string[]): ApiCase => ({
    name,
    category: 'paths',
    method: 'POST',
    path: '/api/v1/detect/detect-face',
    ...json({ image }),
    expect,
  });
  const notAllowed = ['403 PATH_NOT_ALLOWED'];
  return [
    detect('good', join(root, 'good.jpg'), ['200']),
    detect('link inside the root', join(root, 'link-in.jpg'), ['200']),
    detect('png named .jpg', join(root, 'png-named.jpg'), ['200']),
    detect('webp named .gif', join(root, 'webp-named.gif'), ['200']),
    detect('dot segments inside the root', `${root}/folder.jpg/../good.jpg`, ['200']),
    detect('double slash', `${root}//good.jpg`, ['200']),
    detect('text named .jpg', join(root, 'text.jpg'), unsupported),
    detect('truncated', join(root, 'truncated.jpg'), corrupt),
    detect('empty', join(root, 'empty.jpg'), ['422 IMAGE_EMPTY']),
    detect('sparse 64 MiB', join(root, 'sparse.jpg'), tooLarge),
    detect('a folder', join(root, 'folder.jpg'), ['422 INVALID_ARGUMENT']),
    detect('a FIFO', join(root, 'fifo.jpg'), ['422 INVALID_ARGUMENT']),
    detect('missing', join(root, 'missing.jpg'), ['404 IMAGE_NOT_FOUND']),
    detect('dangling link', join(root, 'dangling.jpg'), ['404 IMAGE_NOT_FOUND']),
    detect('link loop', join(root, 'loop-a.jpg'), ['404 IMAGE_NOT_FOUND', ...notAllowed]),
    detect('link to a file outside', join(root, 'link-out.jpg'), notAllowed),
    detect('link to a folder outside', join(root, 'link-dir-out', 'hostname'), notAllowed),
    detect('link to /proc', join(root, 'link-proc.jpg'), notAllowed),
    detect('dot-dot out of the root', `${root}/../../../../etc/passwd`, notAllowed),
    detect('dot-dot through a folder', `${root}/folder.jpg/../../../etc/hostname`, notAllowed),
    detect('absolute outside', '/etc/passwd', notAllowed),
    detect('proc', '/proc/self/environ', notAllowed),
    detect('relative', 'package.json', notAllowed),
    detect('home', '~/.ssh/id_rsa', notAllowed),
    detect('encoded dot-dot', `${root}/%2e%2e/%2e%2e/etc/passwd`, ['404 IMAGE_NOT_FOUND']),
    detect('NUL byte', `${root}/good.jpg\u0000.png`, ['422 INVALID_ARGUMENT']),
    detect('very long name', `${root}/${'a'.repeat(300)}.jpg`, ['404 IMAGE_NOT_FOUND']),
    detect('very long path', `${root}/${'d/'.repeat(3000)}x.jpg`, ['404 IMAGE_NOT_FOUND']),
    // on POSIX a backslash is part of a name: `<root>\..\..` names a file beside the root, outside it
    detect('backslashes', `${root}\\..\\..\\etc\\passwd`, notAllowed),
  ];
}

/** A multipart body of `parts`; raw strings are sent as they are (to break the syntax). */
function multipart(boundary: string, parts: { headers: string; content: Buffer | string }[], closing = true): Buffer {
  const chunks: Buffer[] = [];
  for (const p of parts) chunks.push(Buffer.from(`--${boundary}\r\n${p.headers}\r\n\r\n`), Buffer.from(p.content), Buffer.from('\r\n'));
  if (closing) chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return Buffer.concat(chunks);
}
const file = (content: Buffer | string, name = 'images', fileName = 'x.jpg') => ({
  headers: `Content-Disposition: form-data; name="${name}"; filename="${fileName}"\r\nContent-Type: image/jpeg`,
  content,
});
const field = (name: string, content: string) => ({ headers: `Content-Disposition: form-data; name="${name}"`, content });

/** Broken multipart bodies for the enrolment routes, and malformed images uploaded as files. */
export function multipartCases(personId: string, good: Buffer, images: readonly MalformedImage[]): ApiCase[] {
  const boundary = 'corpus-boundary-7d41';
  const type = `multipart/form-data; boundary=${boundary}`;
  const addImages = `/api/v1/blacklist/${personId}/images`;
  const send = (name: string, path: string, body: Buffer | string, expect: readonly string[], contentType = type): ApiCase => ({
    name,
    category: 'multipart',
    method: 'POST',
    path,
    headers: { 'content-type': contentType },
    body,
    expect,
  });
  const malformed = ['400 MULTIPART_INVALID'];
  const invalid = ['422 INVALID_ARGUMENT'];
  const valid = multipart(boundary, [file(good)]);
  const cases: ApiCase[] = [
    send('a good upload', addImages, valid, ['200']),
    send('a good enrolment', '/api/v1/blacklist', multipart(boundary, [field('name', 'Corpus Person'), file(good)]), ['201']),
    send('no boundary parameter', addImages, valid, malformed, 'multipart/form-data'),
    send('another boundary', addImages, valid, malformed, 'multipart/form-data; boundary=not-the-one'),
    send('empty boundary', addImages, valid, malformed, 'multipart/form-data; boundary='),
    send('empty body', addImages, '', malformed),
    send('only the closing boundary', addImages, `--${boundary}--\r\n`, invalid),
    send('garbage', addImages, 'garbage without any boundary', malformed),
    send('no closing boundary', addImages, multipart(boundary, [file(good)], false), malformed),
    send('a header line without a colon', addImages, multipart(boundary, [{ headers: 'Content-Disposition form-data name images', content: good }]), malformed),
    send('a part without a name', addImages, multipart(boundary, [{ headers: 'Content-Disposition: form-data; filename="x.jpg"', content: good }]), malformed),
    // busboy skips a part it cannot name: the request then has no images
    send('a part without Content-Disposition', addImages, multipart(boundary, [{ headers: 'Content-Type: image/jpeg', content: good }]), invalid),
    send(
      'a part header of 100 KB',
      addImages,
      multipart(boundary, [{ headers: `Content-Disposition: form-data; name="images"; filename="x.jpg"\r\nX-Pad: ${'a'.repeat(100_000)}`, content: good }]),
      malformed,
    ),
    send('a field the route does not take', addImages, multipart(boundary, [field('name', 'x'), file(good)]), invalid),
    send('a file field the route does not take', addImages, multipart(boundary, [file(good, 'photo')]), invalid),
    send('images as text', addImages, multipart(boundary, [field('images', 'not a file')]), invalid),
    send('__proto__ field', '/api/v1/blacklist', multipart(boundary, [field('name', 'p'), field('__proto__', 'x')]), invalid),
    send('__proto__[polluted] field', '/api/v1/blacklist', multipart(boundary, [field('name', 'p'), field('__proto__[polluted]', 'x')]), invalid),
    send('constructor[prototype][x] field', '/api/v1/blacklist', multipart(boundary, [field('name', 'p'), field('constructor[prototype][x]', 'x')]), invalid),
    send('name[] field', '/api/v1/blacklist', multipart(boundary, [field('name[]', 'p')]), invalid),
    send('name twice', '/api/v1/blacklist', multipart(boundary, [field('name', 'a'), field('name', 'b')]), invalid),
    send('a blank name', '/api/v1/blacklist', multipart(boundary, [field('name', '   ')]), invalid),
    send('a name of 201 characters', '/api/v1/blacklist', multipart(boundary, [field('name', 'x'.repeat(201))]), invalid),
    send('a reason of 100 KB', '/api/v1/blacklist', multipart(boundary, [field('name', 'p'), field('reason', 'r'.repeat(100_000))]), ['413 PAYLOAD_TOO_LARGE']),
    send(
      '500 fields',
      '/api/v1/blacklist',
      multipart(
        boundary,
        Array.from({ length: 500 }, (_, i) => field(`f${i}`, 'x')),
      ),
      ['413 PAYLOAD_TOO_LARGE', ...invalid],
    ),
    send(
      '25 files (MAX_UPLOAD_FILES 20)',
      addImages,
      multipart(
        boundary,
        Array.from({ length: 25 }, () => file('x')),
      ),
      ['413 PAYLOAD_TOO_LARGE'],
    ),
    send('a file over MAX_IMAGE_BYTES', addImages, multipart(boundary, [file(Buffer.alloc(9 * 1024 * 1024))]), ['413 PAYLOAD_TOO_LARGE']),
    send('a field name of 1000 characters', '/api/v1/blacklist', multipart(boundary, [field('n'.repeat(1000), 'x')]), ['413 PAYLOAD_TOO_LARGE', ...invalid]),
    send('JSON to a multipart route', addImages, JSON.stringify({ images: ['x'] }), invalid, 'application/json'),
    send('an unknown person', '/api/v1/blacklist/00000000-0000-0000-0000-000000000000/images', valid, ['404 PERSON_NOT_FOUND']),
    send('a filename with a path', addImages, multipart(boundary, [file(good, 'images', '../../../etc/passwd')]), ['200']),
    send('a filename with NUL', addImages, multipart(boundary, [file(good, 'images', 'a\u0000b.jpg')]), malformed),
    send('a filename with an escaped newline', addImages, multipart(boundary, [file(good, 'images', 'a%0Ab.jpg')]), ['200']),
    send(
      'base64 transfer encoding declared',
      addImages,
      multipart(boundary, [{ headers: 'Content-Disposition: form-data; name="images"; filename="x.jpg"\r\nContent-Transfer-Encoding: base64', content: good.toString('base64') }]),
      ['200'],
    ),
  ];
  // cut short: every way the body can end before its closing boundary
  const closing = valid.lastIndexOf(Buffer.from(`--${boundary}--`));
  for (let tenth = 0; tenth < 20; tenth++) {
    const at = Math.floor((closing * tenth) / 20) + (tenth === 0 ? 5 : 0);
    cases.push(send(`cut at ${at} of ${valid.length}`, addImages, valid.subarray(0, at), malformed));
  }
  // malformed images as files: the request succeeds, each file is rejected with its code
  for (const image of images.filter((_, i) => i % 3 === 0)) {
    // an image that still decodes is added when it shows one good face, else rejected for its faces
    const right = expectedFor(image).flatMap((e) =>
      e === '200' ? ['added', 'rejected NO_FACE', 'rejected MULTIPLE_FACES', 'rejected FACE_REJECTED'] : [`rejected ${e.split(' ')[1]}`],
    );
    cases.push({
      ...send(
        `upload ${image.name}`,
        addImages,
        multipart(boundary, [file(image.bytes, 'images', `${image.name}.jpg`)]),
        right.map((r) => `200 ${r}`),
      ),
      category: `upload ${image.kind}`,
    });
  }
  return cases;
}
