import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CreateBucketCommand, DeleteBucketCommand, HeadObjectCommand, PutObjectCommand, type DeleteObjectsCommandOutput, type S3Client } from '@aws-sdk/client-s3';
import { AppError, ErrorCode, createLogger, projectRoot } from '@facewatch/core';
import { S3ReferenceStore, createS3Client, type AwsRetryPolicy, type S3ReferenceStoreOptions } from '@facewatch/recognition';

// The S3 reference store against a real S3 server: moto (scripts/services.sh up s3), reached
// through S3_ENDPOINT. Nothing here is mocked; the retry and per-key-error tests wrap the client's
// `send` to inject one failure in front of (or a reported error behind) a real call.
// Without S3_ENDPOINT every test fails: `node scripts/test.mjs` starts moto itself.

const faces = join(projectRoot(), '../shared/fixtures/faces');
const log = createLogger({ level: 'silent' });
// One bucket per run, so runs against a shared moto never see each other's objects.
const bucket = `facewatch-test-${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`;

function endpoint(): string {
  const value = process.env.S3_ENDPOINT;
  if (!value) {
    throw new Error('S3_ENDPOINT is not set: start moto with `bash scripts/services.sh up s3` and export what it prints, or run `node scripts/test.mjs`');
  }
  return value;
}

interface Sleeps {
  policy: AwsRetryPolicy;
  waits: number[];
}
function retryPolicy(attempts = 3): Sleeps {
  const waits: number[] = [];
  return {
    waits,
    policy: { attempts, baseDelayMs: 100, maxDelayMs: 1000, random: () => 0.5, sleep: async (ms) => void waits.push(ms) },
  };
}

type Send = (command: { constructor: { name: string }; input: unknown }) => Promise<unknown>;
/**
 * Replaces the client's `send` with `wrap(real send, command, call number)`; records the commands'
 * names. The returned `restore` puts the real one back.
 */
function intercept(client: S3Client, wrap?: (send: Send, command: Parameters<Send>[0], n: number) => Promise<unknown>) {
  const target = client as unknown as { send: Send };
  const real = target.send.bind(client) as Send;
  const calls: string[] = [];
  target.send = (command) => {
    calls.push(command.constructor.name.replace(/Command$/, ''));
    return wrap ? wrap(real, command, calls.length) : real(command);
  };
  return { calls, restore: () => void (target.send = real) };
}

async function rejectsWith(promise: Promise<unknown>, code: ErrorCode, message?: RegExp): Promise<AppError> {
  let caught: unknown;
  try {
    await promise;
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof AppError, `expected an AppError ${code}, got ${String(caught)}`);
  assert.equal(caught.code, code, caught.message);
  if (message) assert.match(caught.message, message);
  return caught;
}

const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('base64');

async function collect(iterable: AsyncIterable<string>): Promise<string[]> {
  const out: string[] = [];
  for await (const key of iterable) out.push(key);
  return out;
}

describe('S3ReferenceStore against moto', () => {
  let client: S3Client;
  const stores: S3ReferenceStore[] = [];
  /** A store on the run's bucket with its own prefix, so the tests don't see each other's objects. */
  function store(prefix: string, options: Partial<S3ReferenceStoreOptions> = {}): S3ReferenceStore {
    const s = new S3ReferenceStore({ client, bucket, prefix, log, retry: retryPolicy().policy, ...options });
    stores.push(s);
    return s;
  }

  before(async () => {
    const url = endpoint();
    // moto accepts any credentials; the SDK's default chain reads them from the environment.
    process.env.AWS_ACCESS_KEY_ID ??= 'testing';
    process.env.AWS_SECRET_ACCESS_KEY ??= 'testing';
    client = createS3Client({ region: 'us-east-1', endpoint: url });
    await client.send(new CreateBucketCommand({ Bucket: bucket }));
  });

  after(async () => {
    if (!client) return;
    // Empties and drops the run's bucket (moto keeps everything in memory until it stops).
    const all = store('');
    await all.delete(await collect(all.list()));
    await client.send(new DeleteBucketCommand({ Bucket: bucket }));
    client.destroy();
  });

  test('createS3Client: no SDK retries (callAws has the policy), path-style addressing for an endpoint', async () => {
    assert.equal(await client.config.maxAttempts(), 1);
    assert.equal(client.config.forcePathStyle, true);
    const aws = createS3Client({ region: 'eu-west-1' });
    assert.equal(await aws.config.maxAttempts(), 1);
    assert.notEqual(aws.config.forcePathStyle, true);
    aws.destroy();
  });

  test('put then get returns the same bytes of real fixture images, with content type and SHA-256 stored', async () => {
    const s = store('roundtrip/');
    const jpeg = await readFile(join(faces, 'groups/bbt1.jpg'));
    const png = await readFile(join(faces, 'identities/amy/amy1.png'));
    assert.ok(jpeg.length > 10_000);
    await s.put('penny/bbt1.jpg', jpeg, 'image/jpeg');
    await s.put('amy/amy1.png', png, 'image/png');

    const gotJpeg = await s.get('penny/bbt1.jpg');
    const gotPng = await s.get('amy/amy1.png');
    assert.ok(gotJpeg instanceof Uint8Array && gotPng instanceof Uint8Array);
    assert.ok(Buffer.from(gotJpeg).equals(jpeg), 'JPEG bytes differ after the round trip');
    assert.ok(Buffer.from(gotPng).equals(png), 'PNG bytes differ after the round trip');

    const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: 'roundtrip/penny/bbt1.jpg', ChecksumMode: 'ENABLED' }));
    assert.equal(head.ContentType, 'image/jpeg');
    assert.equal(head.ContentLength, jpeg.length);
    assert.equal(head.ChecksumSHA256, sha256(jpeg), 'the SHA-256 of the bytes is stored with the object');

    // Overwriting a key replaces the object.
    await s.put('amy/amy1.png', jpeg, 'image/jpeg');
    assert.ok(Buffer.from((await s.get('amy/amy1.png'))!).equals(jpeg));
  });

  test('get checks the body against the stored SHA-256: a mismatch is BACKEND_FAILED', async () => {
    const s = store('integrity/');
    const bytes = await readFile(join(faces, 'identities/raj/raj1.png'));
    // moto does not verify checksums on upload (S3 does): this stores one that does not match.
    await client.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: 'integrity/raj/raj1.png',
        Body: bytes,
        ChecksumAlgorithm: 'SHA256',
        ChecksumSHA256: sha256(new Uint8Array([1, 2, 3])),
      }),
    );
    await rejectsWith(s.get('raj/raj1.png'), ErrorCode.BACKEND_FAILED, /s3:GetObject/);
  });

  test('objectKey and location: the prefix plus the key, in the store bucket', () => {
    const s = store('refs/v1/');
    assert.equal(s.objectKey('penny/a.jpg'), 'refs/v1/penny/a.jpg');
    assert.deepEqual(s.location('penny/a.jpg'), { bucket, objectKey: 'refs/v1/penny/a.jpg' });
    assert.equal(store('').objectKey('penny/a.jpg'), 'penny/a.jpg');
  });

  test('get of a missing key is undefined; a missing bucket is an error, not a missing object', async () => {
    const s = store('missing/');
    assert.equal(await s.get('nobody/none.jpg'), undefined);
    const other = new S3ReferenceStore({ client, bucket: `${bucket}-absent`, prefix: '', log, retry: retryPolicy().policy });
    await rejectsWith(other.get('nobody/none.jpg'), ErrorCode.BACKEND_FAILED, /NoSuchBucket/);
  });

  test('delete: present and missing keys in one batch; only the named objects go', async () => {
    const s = store('delete/');
    const bytes = new Uint8Array([1, 2, 3]);
    for (const key of ['raj/1.jpg', 'raj/2.jpg', 'raj/3.jpg']) await s.put(key, bytes, 'image/jpeg');
    await s.delete(['raj/1.jpg', 'raj/never-there.jpg', 'raj/3.jpg', 'raj/1.jpg']);
    assert.equal(await s.get('raj/1.jpg'), undefined);
    assert.equal(await s.get('raj/3.jpg'), undefined);
    assert.deepEqual(await collect(s.list()), ['raj/2.jpg']);
    await s.delete([]); // nothing to do, no call
  });

  test('delete sends at most 1000 keys per DeleteObjects request', async () => {
    const s = store('batches/');
    await s.put('howard/kept.jpg', new Uint8Array([9]), 'image/jpeg');
    await s.put('howard/0.jpg', new Uint8Array([0]), 'image/jpeg');
    await s.put('howard/2500.jpg', new Uint8Array([0]), 'image/jpeg');
    const keys = Array.from({ length: 2501 }, (_, i) => `howard/${i}.jpg`); // 2 present, 2499 missing
    const sizes: number[] = [];
    const spy = intercept(client, (send, command) => {
      const input = command.input as { Delete?: { Objects?: unknown[] } };
      if (input.Delete?.Objects) sizes.push(input.Delete.Objects.length);
      return send(command);
    });
    try {
      await s.delete(keys);
    } finally {
      spy.restore();
    }
    assert.deepEqual(sizes, [1000, 1000, 501]);
    assert.deepEqual(await collect(s.list()), ['howard/kept.jpg']);
  });

  test('delete reports the per-key errors of a DeleteObjects answer as BACKEND_FAILED, after every batch', async () => {
    const s = store('delete-errors/');
    await s.put('leonard/1.jpg', new Uint8Array([1]), 'image/jpeg');
    await s.put('leonard/2.jpg', new Uint8Array([2]), 'image/jpeg');
    // moto's DeleteObjects reports no per-key errors on a plain bucket: the real answer gets one
    // added (what S3 says when, for example, a policy denies one key).
    const spy = intercept(client, async (send, command) => {
      const out = (await send(command)) as DeleteObjectsCommandOutput;
      if (command.constructor.name !== 'DeleteObjectsCommand') return out;
      return { ...out, Errors: [{ Key: 'delete-errors/leonard/2.jpg', Code: 'AccessDenied', Message: 'Access Denied' }] };
    });
    let err: AppError;
    try {
      err = await rejectsWith(s.delete(['leonard/1.jpg', 'leonard/2.jpg']), ErrorCode.BACKEND_FAILED, /leonard\/2\.jpg \(AccessDenied\)/);
    } finally {
      spy.restore();
    }
    assert.equal(err.retryable, false);
    assert.deepEqual(err.details?.failures, [{ key: 'leonard/2.jpg', code: 'AccessDenied', message: 'Access Denied' }]);
    assert.equal(await s.get('leonard/1.jpg'), undefined, 'the rest of the batch was still deleted');
  });

  test('list: keys without the prefix, every page, only under the folder asked for', async () => {
    const s = store('list/', { pageSize: 3 });
    const keys = ['amy/1.png', 'amy/2.png', 'amy/3.png', 'amy/4.png', 'amy/5.png', 'amy/6.png', 'amy/7.png', 'amy2/1.png', 'bernadette/1.png'];
    for (const key of keys) await s.put(key, new Uint8Array([key.length]), 'image/png');
    // Outside the store's prefix: never listed.
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: 'listing/amy/1.png', Body: new Uint8Array([1]) }));

    const spy = intercept(client);
    let all: string[];
    try {
      all = await collect(s.list());
    } finally {
      spy.restore();
    }
    assert.deepEqual(all, keys);
    assert.deepEqual(spy.calls, ['ListObjectsV2', 'ListObjectsV2', 'ListObjectsV2'], '9 keys, pages of 3');

    assert.deepEqual(await collect(s.list('amy')), keys.slice(0, 7));
    assert.deepEqual(await collect(s.list('amy/')), keys.slice(0, 7), 'a trailing slash names the same folder');
    assert.deepEqual(await collect(s.list('bernadette')), ['bernadette/1.png']);
    assert.deepEqual(await collect(s.list('nobody')), []);
  });

  test('deleteFolder: every object of the folder over several pages, counted; neighbours stay', async () => {
    const s = store('folders/', { pageSize: 3 });
    for (let i = 1; i <= 7; i++) await s.put(`sheldon/${i}.jpg`, new Uint8Array([i]), 'image/jpeg');
    await s.put('sheldon2/1.jpg', new Uint8Array([1]), 'image/jpeg'); // same leading characters
    await s.put('stuart/1.jpg', new Uint8Array([1]), 'image/jpeg');

    const spy = intercept(client);
    let deleted: number;
    try {
      deleted = await s.deleteFolder('sheldon');
    } finally {
      spy.restore();
    }
    assert.equal(deleted, 7);
    assert.deepEqual(spy.calls, ['ListObjectsV2', 'ListObjectsV2', 'ListObjectsV2', 'DeleteObjects']);
    assert.deepEqual(await collect(s.list()), ['sheldon2/1.jpg', 'stuart/1.jpg']);
    assert.equal(await s.deleteFolder('sheldon'), 0, 'an empty or missing folder: nothing to delete');
  });

  test('check: passes on the bucket, BACKEND_FAILED naming a bucket that does not exist', async () => {
    await store('').check();
    const missing = `${bucket}-missing`;
    const other = new S3ReferenceStore({ client, bucket: missing, prefix: '', log, retry: retryPolicy().policy });
    const spy = intercept(client);
    let err: AppError;
    try {
      err = await rejectsWith(other.check(), ErrorCode.BACKEND_FAILED, new RegExp(`'${missing}' does not exist`));
    } finally {
      spy.restore();
    }
    assert.deepEqual(spy.calls, ['HeadBucket'], 'a missing bucket is not retried');
    assert.equal(err.details?.bucket, missing);
  });

  test('keys and folders are checked before any call: INVALID_ARGUMENT', async () => {
    const s = store('keys/');
    const spy = intercept(client);
    try {
      for (const key of ['', '/amy/1.jpg', '../amy/1.jpg', 'amy/../../etc/passwd', 'amy/..', './amy/1.jpg', 'amy//1.jpg', 'amy/1.jpg/', 'amy\\..\\1.jpg', 'amy/\u0000.jpg']) {
        assert.throws(
          () => s.objectKey(key),
          (e: unknown) => e instanceof AppError && e.code === ErrorCode.INVALID_ARGUMENT,
          `key ${JSON.stringify(key)}`,
        );
        await rejectsWith(s.put(key, new Uint8Array([1]), 'image/jpeg'), ErrorCode.INVALID_ARGUMENT);
        await rejectsWith(s.get(key), ErrorCode.INVALID_ARGUMENT);
      }
      await rejectsWith(s.delete(['amy/1.jpg', '../1.jpg']), ErrorCode.INVALID_ARGUMENT);
      await rejectsWith(s.deleteFolder(''), ErrorCode.INVALID_ARGUMENT);
      await rejectsWith(s.deleteFolder('/'), ErrorCode.INVALID_ARGUMENT);
      await rejectsWith(s.deleteFolder('..'), ErrorCode.INVALID_ARGUMENT);
      await rejectsWith(collect(s.list('../other')), ErrorCode.INVALID_ARGUMENT);
      assert.throws(() => s.objectKey(`amy/${'x'.repeat(1020)}`), /1024 bytes/);
    } finally {
      spy.restore();
    }
    assert.deepEqual(spy.calls, [], 'no request reached S3');
    assert.equal(s.objectKey('amy/a..b.jpg'), 'keys/amy/a..b.jpg', "'..' inside a name is fine");

    for (const prefix of ['refs', '/refs/']) {
      assert.throws(
        () => new S3ReferenceStore({ client, bucket, prefix, log, retry: retryPolicy().policy }),
        (e: unknown) => e instanceof AppError && e.code === ErrorCode.CONFIG_INVALID,
      );
    }
  });

  test('a transient failure is retried and the next try reaches S3', async () => {
    const { policy, waits } = retryPolicy(3);
    const s = store('retry/', { retry: policy });
    const bytes = await readFile(join(faces, 'identities/penny/penny1.png'));
    const throttleFirstTry = () =>
      intercept(client, (send, command, n) => {
        if (n === 1) return Promise.reject(Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException', $metadata: { httpStatusCode: 400 } }));
        return send(command);
      });

    let spy = throttleFirstTry();
    try {
      await s.put('penny/1.png', bytes, 'image/png');
    } finally {
      spy.restore();
    }
    assert.deepEqual(spy.calls, ['PutObject', 'PutObject']);
    assert.deepEqual(waits, [50], 'one back-off: random 0.5 x base 100 ms');

    spy = throttleFirstTry();
    let got: Uint8Array | undefined;
    try {
      got = await s.get('penny/1.png');
    } finally {
      spy.restore();
    }
    assert.deepEqual(spy.calls, ['GetObject', 'GetObject']);
    assert.ok(got && Buffer.from(got).equals(bytes));

    spy = intercept(client, (_send, _command, n) => Promise.reject(Object.assign(new Error(`down ${n}`), { name: 'ServiceUnavailable', $metadata: { httpStatusCode: 503 } })));
    try {
      const err = await rejectsWith(s.check(), ErrorCode.BACKEND_UNAVAILABLE, new RegExp(`'${bucket}'`));
      assert.equal(err.retryable, true);
    } finally {
      spy.restore();
    }
    assert.deepEqual(spy.calls, ['HeadBucket', 'HeadBucket', 'HeadBucket'], 'three tries in all, then the error');
  });
});
