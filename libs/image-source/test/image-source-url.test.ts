import assert from 'node:assert/strict';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { AppError, ErrorCode } from '@facewatch/core';
import { fetchImageUrl, resolveImageInput, type ImageSourcePolicy } from '@facewatch/image-source';

// Medium: real HTTP servers on 127.0.0.1 (the only addresses these tests ever connect to; the
// refused ones, like 127.0.0.2, are refused before any connection is made).

const image = Buffer.from('GIF89a pretend image bytes '.repeat(10));
const maxBytes = 1024;
let main: Server;
let other: Server;
let mainPort = 0;
let otherPort = 0;
let closedPort = 0;
/** What the /big handler managed to write before the client went away. */
const big = { written: 0, total: 64 * 1024 * 1024, closed: false };
const requests: string[] = [];

function listen(server: Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
}

function redirect(res: ServerResponse, location: string, status = 302): void {
  res.writeHead(status, { location }).end();
}

before(async () => {
  main = createServer((req, res) => {
    requests.push(req.url ?? '');
    switch (req.url) {
      case '/image':
        res.writeHead(200, { 'content-type': 'image/gif', 'content-length': image.length }).end(image);
        return;
      case '/big': {
        // no content-length: the limit must be enforced while the body streams
        res.writeHead(200, { 'content-type': 'image/jpeg' });
        res.on('close', () => (big.closed = true));
        const chunk = Buffer.alloc(16 * 1024, 7);
        const pump = () => {
          while (big.written < big.total && !res.destroyed) {
            big.written += chunk.length;
            if (!res.write(chunk)) return void res.once('drain', pump);
          }
          if (!res.destroyed) res.end();
        };
        pump();
        return;
      }
      case '/big-declared':
        res.writeHead(200, { 'content-length': String(10 * maxBytes) });
        res.end(Buffer.alloc(10 * maxBytes));
        return;
      case '/missing':
        res.writeHead(404).end('not here');
        return;
      case '/to-image':
        return redirect(res, '/image', 301);
      case '/to-other-port':
        return redirect(res, `http://127.0.0.1:${otherPort}/image`);
      case '/to-127-0-0-2':
        return redirect(res, `http://127.0.0.2:${mainPort}/image`, 307);
      case '/to-metadata':
        return redirect(res, 'http://169.254.169.254/latest/meta-data/');
      case '/to-ftp':
        return redirect(res, 'ftp://127.0.0.1/image');
      case '/loop':
        return redirect(res, '/loop');
      case '/hang':
        return; // never answers
      default:
        res.writeHead(500).end();
    }
  });
  other = createServer((req, res) => {
    requests.push(`other:${req.url}`);
    res.writeHead(200).end(image);
  });
  mainPort = await listen(main);
  otherPort = await listen(other);
  const closed = createServer();
  closedPort = await listen(closed);
  await new Promise<void>((resolve) => closed.close(() => resolve()));
});

after(async () => {
  for (const server of [main, other]) {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});

const defaults: ImageSourcePolicy = {
  maxBytes,
  pathRoots: [],
  url: { allowPrivate: false, allowedHosts: [], timeoutMs: 5000, maxRedirects: 3 },
};
const allowMain = (): ImageSourcePolicy => ({ ...defaults, url: { ...defaults.url, allowedHosts: [`127.0.0.1:${mainPort}`] } });
const url = (path: string) => `http://127.0.0.1:${mainPort}${path}`;

async function failure(promise: Promise<unknown>): Promise<AppError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof AppError, `expected an AppError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected a rejection');
}

async function until(condition: () => boolean, what: string, capMs = 5000): Promise<void> {
  for (const started = Date.now(); !condition(); await sleep(10)) {
    if (Date.now() - started > capMs) assert.fail(`timed out waiting until ${what}`);
  }
}

describe('fetchImageUrl', () => {
  test('the default policy refuses loopback, by address and by name, without connecting', async () => {
    const before = requests.length;
    for (const target of [url('/image'), `http://localhost:${mainPort}/image`]) {
      const err = await failure(fetchImageUrl(target, defaults));
      assert.equal(err.code, ErrorCode.URL_NOT_ALLOWED, target);
      assert.equal(err.details?.['range'], 'loopback');
      assert.equal(err.details?.['address'], '127.0.0.1');
    }
    assert.equal(requests.length, before, 'no request reached the server');
  });

  test('an allow-listed host:port is fetched', async () => {
    const fetched = await fetchImageUrl(url('/image'), allowMain());
    assert.deepEqual(Buffer.from(fetched.bytes), image);
    assert.equal(fetched.finalUrl, url('/image'));
  });

  test('an allow-listed name is fetched through the checked addresses', async () => {
    const fetched = await fetchImageUrl(`http://localhost:${mainPort}/image`, { ...defaults, url: { ...defaults.url, allowedHosts: ['localhost'] } });
    assert.deepEqual(Buffer.from(fetched.bytes), image);
  });

  test('URL_ALLOW_PRIVATE permits private addresses', async () => {
    const fetched = await fetchImageUrl(url('/image'), { ...defaults, url: { ...defaults.url, allowPrivate: true } });
    assert.deepEqual(Buffer.from(fetched.bytes), image);
  });

  test('redirects are followed and each hop is checked', async () => {
    const followed = await fetchImageUrl(url('/to-image'), allowMain());
    assert.deepEqual(Buffer.from(followed.bytes), image);
    assert.equal(followed.finalUrl, url('/image'));

    const otherBefore = requests.filter((r) => r.startsWith('other:')).length;
    for (const [path, address] of [
      ['/to-other-port', '127.0.0.1'],
      ['/to-127-0-0-2', '127.0.0.2'],
      ['/to-metadata', '169.254.169.254'],
    ] as const) {
      const err = await failure(fetchImageUrl(url(path), allowMain()));
      assert.equal(err.code, ErrorCode.URL_NOT_ALLOWED, path);
      assert.equal(err.details?.['address'], address, path);
    }
    assert.equal(requests.filter((r) => r.startsWith('other:')).length, otherBefore, 'the non-allowed port was never contacted');
    assert.equal((await failure(fetchImageUrl(url('/to-ftp'), allowMain()))).code, ErrorCode.URL_NOT_ALLOWED);
  });

  test('more than maxRedirects redirects is URL_FETCH_FAILED', async () => {
    const before = requests.filter((r) => r === '/loop').length;
    const err = await failure(fetchImageUrl(url('/loop'), allowMain()));
    assert.equal(err.code, ErrorCode.URL_FETCH_FAILED);
    assert.match(err.message, /more than 3 redirects/);
    assert.equal(requests.filter((r) => r === '/loop').length - before, 4, 'the first request and 3 redirects');
  });

  test('a body beyond maxBytes is aborted while it streams', async () => {
    const err = await failure(fetchImageUrl(url('/big'), allowMain()));
    assert.equal(err.code, ErrorCode.IMAGE_TOO_LARGE);
    await until(() => big.closed, 'the server sees the connection closed');
    assert.ok(big.written < big.total, `the server stopped after ${big.written} of ${big.total} bytes`);
    const declared = await failure(fetchImageUrl(url('/big-declared'), allowMain()));
    assert.equal(declared.code, ErrorCode.IMAGE_TOO_LARGE);
    assert.equal(declared.details?.['bytes'], 10 * maxBytes);
  });

  test('an error status is URL_FETCH_FAILED, retryable', async () => {
    const err = await failure(fetchImageUrl(url('/missing'), allowMain()));
    assert.equal(err.code, ErrorCode.URL_FETCH_FAILED);
    assert.equal(err.retryable, true);
    assert.equal(err.details?.['status'], 404);
  });

  test('a refused connection is URL_FETCH_FAILED', async () => {
    const err = await failure(fetchImageUrl(`http://127.0.0.1:${closedPort}/image`, { ...defaults, url: { ...defaults.url, allowPrivate: true } }));
    assert.equal(err.code, ErrorCode.URL_FETCH_FAILED);
    assert.equal(err.details?.['errno'], 'ECONNREFUSED');
    assert.equal(err.retryable, true);
  });

  test('a server that never answers times out as URL_FETCH_FAILED', async () => {
    const policy = allowMain();
    const err = await failure(fetchImageUrl(url('/hang'), { ...policy, url: { ...policy.url, timeoutMs: 300 } }));
    assert.equal(err.code, ErrorCode.URL_FETCH_FAILED);
    assert.equal(err.retryable, true);
    assert.match(err.message, /timed out after 300 ms/);
  });

  test('ftp: and file: are URL_NOT_ALLOWED', async () => {
    for (const target of ['ftp://127.0.0.1/image', 'file:///etc/passwd']) {
      assert.equal((await failure(fetchImageUrl(target, allowMain()))).code, ErrorCode.URL_NOT_ALLOWED, target);
    }
  });

  test('resolveImageInput fetches URLs as kind url without credentials in the identifier', async () => {
    const resolved = await resolveImageInput(`http://user:secret@127.0.0.1:${mainPort}/image`, allowMain());
    assert.equal(resolved.kind, 'url');
    assert.equal(resolved.identifier, url('/image'));
    assert.deepEqual(Buffer.from(resolved.bytes), image);
  });
});
