import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from './config.js';
import { AppError, ErrorCode } from './errors.js';

// dist/config.test.js → libs/core/dist → the checkout root is three folders up
const root = fileURLToPath(new URL('../../../', import.meta.url));

function configError(env: Record<string, string | undefined>): AppError {
  try {
    loadConfig(env);
  } catch (err) {
    assert.ok(err instanceof AppError, 'loadConfig must throw an AppError');
    return err;
  }
  assert.fail('loadConfig accepted an invalid environment');
}

function problemsOf(err: AppError): string[] {
  const problems = err.details?.['problems'];
  assert.ok(Array.isArray(problems), 'details.problems must be an array');
  return problems as string[];
}

describe('loadConfig', () => {
  test('an empty environment gives the documented defaults', () => {
    const config = loadConfig({});
    assert.deepEqual(config, {
      backend: 'local',
      aws: undefined,
      scale: {
        kafka: {
          brokers: [],
          topics: { images: 'facewatch.images', results: 'facewatch.results', matches: 'facewatch.matches', deadLetter: 'facewatch.dlq' },
          partitions: 6,
          replicationFactor: 1,
          registryUrl: undefined,
        },
        databaseUrl: undefined,
        pgSchema: 'public',
        pgPoolSize: 10,
        efSearch: 100,
        annIndex: { storage: 'halfvec', m: 16, efConstruction: 128 },
        matcherConcurrency: Math.max(1, Math.min(2, cpus().length)) * 2,
        metricsPort: undefined,
      },
      storage: { dataDir: resolve(root, 'data'), blacklistDir: resolve(root, 'blacklist_db'), processedDir: resolve(root, 'processed_images_output') },
      api: {
        port: 8000,
        host: '127.0.0.1',
        apiKey: undefined,
        apiKeys: [],
        rateLimit: { perMinute: 600, burst: 100, by: 'key' },
        maxBodyBytes: 100 * 1024 * 1024,
        maxUploadBytes: 25 * 1024 * 1024,
        maxUploadFiles: 20,
        maxImagesPerRequest: 32,
        resultTimeoutMs: 120_000,
        shutdownGraceMs: 30_000,
        sseHeartbeatMs: 15_000,
        instanceId: undefined,
      },
      logLevel: 'info',
      face: {
        modelsDir: resolve(root, 'models'),
        modelsMirror: undefined,
        npmRegistry: 'https://registry.npmjs.org/',
        autoFetchModels: true,
        detector: 'yunet',
        embedder: 'fr_feature',
        distanceMetric: 'cosine',
        maxDistance: undefined,
        decode: { maxBytes: 25 * 1024 * 1024, maxPixels: 60_000_000, maxSidePx: 1280 },
        // minScore unset: each detector applies its own default
        detection: { minScore: undefined, nmsIou: 0.3, maxSidePx: 640 },
        pool: { workers: Math.max(1, Math.min(2, cpus().length)), tasksPerWorker: 2, maxQueued: 256 },
      },
      decision: {
        paramsFile: undefined,
        matchFalseAlertRate: undefined,
        reviewFalseAlertRate: undefined,
        minMargin: undefined,
        gates: { minEyeDistancePx: 16, minDetectionScore: 0.8, minSharpness: 0.025, maxYawDeg: 50, maxPitchDeg: 45, maxEdgeCut: 0.1 },
        referenceGates: { minEyeDistancePx: 28, minDetectionScore: 0.8, minSharpness: 0.025, maxYawDeg: 50, maxPitchDeg: 45, maxEdgeCut: 0.1 },
      },
      cli: { serverUrl: 'http://127.0.0.1:8000' },
      retention: { resultDays: undefined, alertDays: undefined, intervalMs: 3_600_000 },
      webhooks: { maxAttempts: 10, retryInitialMs: 1000, retryMaxMs: 3_600_000, timeoutMs: 10_000, pollMs: 1000 },
      // no server path is readable and no private address fetchable until configured
      imageSource: { pathRoots: [], url: { allowPrivate: false, allowedHosts: [], timeoutMs: 10_000, maxRedirects: 3 } },
      inbox: { dir: resolve(root, 'inbox'), stableMs: 1000, incompleteMs: 600_000 },
    });
  });

  test("the replaced server's variables: backend, folders, port", () => {
    const config = loadConfig({ FACE_PROCESSING_BACKEND: 'local', BLACKLIST_DB_PATH: '/srv/watch', PROCESSED_IMAGES_OUTPUT_DIR: 'out', PORT: '9000', API_KEY: 's3cret' });
    assert.deepEqual([config.storage.blacklistDir, config.storage.processedDir, config.api.port, config.api.apiKey], ['/srv/watch', resolve(root, 'out'), 9000, 's3cret']);
    const problems = problemsOf(configError({ FACE_PROCESSING_BACKEND: 'aws_rekognition', PORT: '70000' }));
    // the AWS backend's required variables are reported together with every other problem
    assert.deepEqual(problems.map((p) => p.split(':')[0]).sort(), ['AWS_REGION', 'AWS_S3_BUCKET_NAME', 'PORT']);
    assert.ok(problemsOf(configError({ FACE_PROCESSING_BACKEND: 'gpu' })).some((p) => p.startsWith('FACE_PROCESSING_BACKEND: ') && p.includes('local, aws_rekognition')));
    assert.equal(loadConfig({}).aws, undefined);
  });

  test('API_KEYS: named keys with scopes; problems never show a key', () => {
    const config = loadConfig({ API_KEY: 'the-admin-key', API_KEYS: ' reader:read:0123456789abcdef , ops:admin:key:with:colons-123 ,' });
    assert.deepEqual(config.api.apiKeys, [
      { name: 'reader', scope: 'read', key: '0123456789abcdef' },
      { name: 'ops', scope: 'admin', key: 'key:with:colons-123' },
    ]);
    assert.equal(config.api.apiKey, 'the-admin-key');
    const secret = 'do-not-print-this-key';
    const problems = problemsOf(
      configError({
        API_KEY: secret,
        API_KEYS: `a:read:${secret},b:owner:${secret}x,c d:read:${secret}y,e:write:short,f:read:${secret}z,f:write:${secret}w`,
        RATE_LIMIT_BY: 'user',
        RATE_LIMIT_PER_MINUTE: '-1',
      }),
    );
    assert.deepEqual(problems.map((p) => p.split(':')[0]).sort(), ['API_KEYS', 'API_KEYS', 'API_KEYS', 'API_KEYS', 'RATE_LIMIT_BY', 'RATE_LIMIT_PER_MINUTE']);
    for (const p of problems) assert.ok(!p.includes(secret), p);
    assert.ok(problems.some((p) => p.includes('entry 2 (b): the scope must be one of read, write, admin')));
    assert.ok(problems.some((p) => p.includes('entry 6 (f): the name is used twice')));
    // the same key as API_KEY, checked once the rest is valid
    assert.deepEqual(problemsOf(configError({ API_KEY: secret, API_KEYS: `a:read:${secret}` })), ['API_KEYS: entry a has the same key as API_KEY']);
    assert.deepEqual(loadConfig({ RATE_LIMIT_PER_MINUTE: '0', RATE_LIMIT_BY: 'address', RATE_LIMIT_BURST: '5' }).api.rateLimit, { perMinute: 0, burst: 5, by: 'address' });
  });

  test('the AWS Rekognition backend: required variables, defaults, overrides', () => {
    const config = loadConfig({ FACE_PROCESSING_BACKEND: 'aws_rekognition', AWS_REGION: 'eu-west-1', AWS_S3_BUCKET_NAME: 'watch-refs' });
    assert.deepEqual(config.aws, {
      region: 'eu-west-1',
      collectionId: 'facewatch',
      bucket: 'watch-refs',
      s3Prefix: 'blacklist_db/',
      s3Endpoint: undefined,
      rekognitionEndpoint: undefined,
      faceMatchThreshold: 80,
      qualityFilter: 'AUTO',
      maxAttempts: 5,
    });
    const custom = loadConfig({
      FACE_PROCESSING_BACKEND: 'aws_rekognition',
      AWS_REGION: 'us-east-1',
      AWS_S3_BUCKET_NAME: 'b',
      AWS_S3_PREFIX: 'refs',
      AWS_REKOGNITION_COLLECTION_ID: 'watch.list-2',
      AWS_ENDPOINT_URL_S3: 'http://127.0.0.1:15000',
      AWS_REKOGNITION_FACE_MATCH_THRESHOLD: '95.5',
      AWS_REKOGNITION_QUALITY_FILTER: 'HIGH',
      AWS_MAX_ATTEMPTS: '3',
    }).aws!;
    assert.deepEqual(
      [custom.s3Prefix, custom.collectionId, custom.s3Endpoint, custom.faceMatchThreshold, custom.qualityFilter, custom.maxAttempts],
      ['refs/', 'watch.list-2', 'http://127.0.0.1:15000', 95.5, 'HIGH', 3],
    );
    const problems = problemsOf(
      configError({
        FACE_PROCESSING_BACKEND: 'aws_rekognition',
        AWS_REGION: 'x',
        AWS_S3_BUCKET_NAME: 'b',
        AWS_REKOGNITION_COLLECTION_ID: 'bad id!',
        AWS_ENDPOINT_URL_S3: 'ftp://x',
        AWS_ENDPOINT_URL_REKOGNITION: 'rekognition.local',
        AWS_REKOGNITION_FACE_MATCH_THRESHOLD: '101',
        AWS_REKOGNITION_QUALITY_FILTER: 'BEST',
      }),
    );
    assert.deepEqual(problems.map((p) => p.split(':')[0]).sort(), [
      'AWS_ENDPOINT_URL_REKOGNITION',
      'AWS_ENDPOINT_URL_S3',
      'AWS_REKOGNITION_COLLECTION_ID',
      'AWS_REKOGNITION_FACE_MATCH_THRESHOLD',
      'AWS_REKOGNITION_QUALITY_FILTER',
    ]);
  });

  test('image source and inbox variables', () => {
    const config = loadConfig({
      IMAGE_PATH_ROOTS: ' /srv/photos , shared/cameras,,',
      URL_ALLOW_PRIVATE: 'true',
      URL_ALLOWED_HOSTS: 'Images.Example.com, cdn.example.com:8443,[fd00::5]:8080, ::1',
      URL_FETCH_TIMEOUT_MS: '2500',
      INBOX_DIR: 'data/inbox',
      INBOX_STABLE_MS: '250',
      INBOX_INCOMPLETE_MS: '90000',
    });
    assert.deepEqual(config.imageSource, {
      pathRoots: ['/srv/photos', resolve(root, 'shared/cameras')],
      url: { allowPrivate: true, allowedHosts: ['images.example.com', 'cdn.example.com:8443', '[fd00::5]:8080', '[::1]'], timeoutMs: 2500, maxRedirects: 3 },
    });
    assert.deepEqual(config.inbox, { dir: resolve(root, 'data/inbox'), stableMs: 250, incompleteMs: 90_000 });
    const problems = problemsOf(
      configError({ URL_ALLOWED_HOSTS: 'ok.example, http://bad.example/, host:99999', URL_FETCH_TIMEOUT_MS: '5', INBOX_STABLE_MS: 'soon', INBOX_INCOMPLETE_MS: '10' }),
    );
    assert.equal(problems.filter((p) => p.startsWith('URL_ALLOWED_HOSTS: ')).length, 2);
    assert.ok(problems.some((p) => p.startsWith('URL_FETCH_TIMEOUT_MS: ')));
    assert.ok(problems.some((p) => p.startsWith('INBOX_STABLE_MS: ')));
    assert.ok(problems.some((p) => p.startsWith('INBOX_INCOMPLETE_MS: ')));
    // an incomplete-looking upload never waits less than a complete one
    assert.deepEqual(problemsOf(configError({ INBOX_STABLE_MS: '5000', INBOX_INCOMPLETE_MS: '4000' })), ['INBOX_INCOMPLETE_MS: must be at least INBOX_STABLE_MS (5000), got 4000']);
    assert.equal(loadConfig({ INBOX_STABLE_MS: '5000', INBOX_INCOMPLETE_MS: '5000' }).inbox.incompleteMs, 5000);
  });

  test('blank and whitespace-only values count as unset', () => {
    const config = loadConfig({ DETECTOR_BACKEND: '   ', FACE_WORKERS: '', MODELS_MIRROR: ' ', DISTANCE_THRESHOLD: '' });
    assert.equal(config.face.detector, 'yunet');
    assert.equal(config.face.modelsMirror, undefined);
    assert.equal(config.face.maxDistance, undefined);
  });

  test('valid overrides parse into the nested typed object', () => {
    const config = loadConfig({
      LOG_LEVEL: 'debug',
      DETECTOR_BACKEND: 'ultraface',
      FACE_WORKERS: '3',
      FACE_TASKS_PER_WORKER: ' 4 ',
      FACE_MAX_QUEUED: '1000',
      DETECTION_MIN_SCORE: '0.7',
      DETECTION_NMS_IOU: '0.45',
      DETECTION_MAX_SIDE: '320',
      DISTANCE_METRIC: 'euclidean_l2',
      DISTANCE_THRESHOLD: '0.5',
      MODELS_AUTO_FETCH: 'false',
      MAX_IMAGE_BYTES: '2048',
      MAX_IMAGE_PIXELS: '4096',
      DECODE_MAX_SIDE: '800',
      MODELS_DIR: join(tmpdir(), 'facewatch-models'),
      MODELS_MIRROR: 'mirror/models',
      MODELS_NPM_REGISTRY: 'https://npm.example.test/',
      npm_config_registry: 'https://ignored.example.test/',
    });
    assert.equal(config.logLevel, 'debug');
    assert.equal(config.face.detector, 'ultraface');
    assert.equal(config.face.distanceMetric, 'euclidean_l2');
    assert.equal(config.face.maxDistance, 0.5);
    assert.equal(config.face.autoFetchModels, false);
    assert.deepEqual(config.face.pool, { workers: 3, tasksPerWorker: 4, maxQueued: 1000 });
    assert.deepEqual(config.face.detection, { minScore: 0.7, nmsIou: 0.45, maxSidePx: 320 });
    assert.deepEqual(config.face.decode, { maxBytes: 2048, maxPixels: 4096, maxSidePx: 800 });
    assert.equal(config.face.modelsDir, join(tmpdir(), 'facewatch-models'));
    assert.equal(config.face.modelsMirror, resolve(root, 'mirror/models'));
    assert.equal(config.face.npmRegistry, 'https://npm.example.test/');
  });

  test('the HNSW build settings, and ef_construction below 2·m refused with the others', () => {
    assert.deepEqual(loadConfig({ PGVECTOR_INDEX_STORAGE: 'vector', PGVECTOR_M: '24', PGVECTOR_EF_CONSTRUCTION: '48' }).scale.annIndex, {
      storage: 'vector',
      m: 24,
      efConstruction: 48,
    });
    assert.throws(
      () => loadConfig({ PGVECTOR_M: '32', PGVECTOR_EF_CONSTRUCTION: '63', PGVECTOR_INDEX_STORAGE: 'float16' }),
      (err: AppError) => {
        const problems = (err.details as { problems: string[] }).problems;
        assert.equal(err.code, ErrorCode.CONFIG_INVALID);
        assert.ok(
          problems.some((p) => p.startsWith('PGVECTOR_INDEX_STORAGE')),
          problems.join('; '),
        );
        return true;
      },
    );
    assert.throws(
      () => loadConfig({ PGVECTOR_M: '32', PGVECTOR_EF_CONSTRUCTION: '63' }),
      (err: AppError) => {
        assert.deepEqual((err.details as { problems: string[] }).problems, ['PGVECTOR_EF_CONSTRUCTION: must be at least 2 × PGVECTOR_M (64), got 63']);
        return true;
      },
    );
  });

  test('npm_config_registry is used when MODELS_NPM_REGISTRY is unset', () => {
    assert.equal(loadConfig({ npm_config_registry: 'https://corp.example.test/npm/' }).face.npmRegistry, 'https://corp.example.test/npm/');
  });

  test('boolean spellings', () => {
    for (const v of ['1', 'true', 'YES', ' on ']) assert.equal(loadConfig({ MODELS_AUTO_FETCH: v }).face.autoFetchModels, true, v);
    for (const v of ['0', 'False', 'no', 'OFF']) assert.equal(loadConfig({ MODELS_AUTO_FETCH: v }).face.autoFetchModels, false, v);
  });

  test('range limits are inclusive', () => {
    assert.equal(loadConfig({ FACE_WORKERS: '1' }).face.pool.workers, 1);
    assert.equal(loadConfig({ FACE_WORKERS: '64' }).face.pool.workers, 64);
    assert.equal(loadConfig({ DISTANCE_THRESHOLD: '0' }).face.maxDistance, 0);
    assert.equal(loadConfig({ DISTANCE_THRESHOLD: '4' }).face.maxDistance, 4);
    assert.equal(configError({ FACE_WORKERS: '65' }).code, ErrorCode.CONFIG_INVALID);
    assert.equal(configError({ DISTANCE_THRESHOLD: '4.01' }).code, ErrorCode.CONFIG_INVALID);
  });

  test('every invalid variable is reported in one CONFIG_INVALID error', () => {
    const err = configError({
      DETECTOR_BACKEND: 'mtcnn',
      FACE_WORKERS: '0',
      FACE_TASKS_PER_WORKER: '1.5',
      DETECTION_MIN_SCORE: 'abc',
      DISTANCE_THRESHOLD: '-1',
      MODELS_AUTO_FETCH: 'maybe',
      LOG_LEVEL: 'verbose',
      // valid ones must not be reported
      DISTANCE_METRIC: 'euclidean',
      DETECTION_NMS_IOU: '0.5',
    });
    assert.equal(err.code, ErrorCode.CONFIG_INVALID);
    assert.equal(err.retryable, false);
    const problems = problemsOf(err);
    const named = problems.map((p) => p.slice(0, p.indexOf(':'))).sort();
    assert.deepEqual(named, ['DETECTION_MIN_SCORE', 'DETECTOR_BACKEND', 'DISTANCE_THRESHOLD', 'FACE_TASKS_PER_WORKER', 'FACE_WORKERS', 'LOG_LEVEL', 'MODELS_AUTO_FETCH']);
    // the message lists them too, with the offending value
    for (const name of named) assert.match(err.message, new RegExp(`${name}: `));
    assert.match(err.message, /"mtcnn"/);
    assert.match(err.message, /"abc"/);
  });

  test('the result is deeply frozen', () => {
    const config = loadConfig({});
    for (const o of [config, config.face, config.face.decode, config.face.detection, config.face.pool, config.imageSource.url, config.imageSource.pathRoots, config.inbox]) {
      assert.ok(Object.isFrozen(o));
    }
    assert.throws(() => {
      (config.face.pool as { workers: number }).workers = 99;
    }, TypeError);
    assert.throws(() => {
      (config as { logLevel: string }).logLevel = 'trace';
    }, TypeError);
    assert.equal(config.face.pool.workers, Math.max(1, Math.min(2, cpus().length)));
  });

  test('each call returns a fresh object', () => {
    const a = loadConfig({ FACE_WORKERS: '5' });
    const b = loadConfig({ FACE_WORKERS: '6' });
    assert.equal(a.face.pool.workers, 5);
    assert.equal(b.face.pool.workers, 6);
  });
});
