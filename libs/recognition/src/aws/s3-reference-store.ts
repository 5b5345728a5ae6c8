import { createHash } from 'node:crypto';
import { DeleteObjectsCommand, GetObjectCommand, HeadBucketCommand, ListObjectsV2Command, PutObjectCommand, S3Client, type ListObjectsV2CommandOutput } from '@aws-sdk/client-s3';
import { AppError, ErrorCode, type Logger } from '@facewatch/core';
import { callAws, type AwsRetryPolicy } from './aws-calls.js';

export interface S3ReferenceStoreOptions {
  client: S3Client;
  bucket: string;
  /** '' or ending in '/' (e.g. 'facewatch/references/'); every object key starts with it. */
  prefix: string;
  log: Logger;
  retry: AwsRetryPolicy;
  /** Keys per ListObjectsV2 page (1–1000, default 1000); tests use a small one to cover paging. */
  pageSize?: number;
}

/** DeleteObjects takes at most this many keys per request. */
const DELETE_BATCH = 1000;
const MAX_PAGE_SIZE = 1000;

/**
 * An S3 client for the reference store: no SDK retries (`maxAttempts: 1`, {@link callAws} retries),
 * credentials from the SDK's default chain. With `endpoint` (moto, MinIO, ...) path-style addressing.
 */
export function createS3Client(options: { region: string; endpoint?: string }): S3Client {
  return new S3Client({
    region: options.region,
    maxAttempts: 1,
    ...(options.endpoint ? { endpoint: options.endpoint, forcePathStyle: true } : {}),
  });
}

/**
 * The reference images of the watch-list persons in an S3 bucket, one "folder" per person:
 * object key = prefix + `<person folder>/<file name>`. Every call goes through {@link callAws}
 * (retries of transient failures, errors as AppError). Keys taken by the methods are relative to
 * the prefix and are checked: no leading '/', no empty, '.' or '..' segments.
 */
export class S3ReferenceStore {
  readonly bucket: string;
  readonly prefix: string;
  private readonly client: S3Client;
  private readonly log: Logger;
  private readonly retry: AwsRetryPolicy;
  private readonly pageSize: number;

  constructor(options: S3ReferenceStoreOptions) {
    if (!options.bucket) throw new AppError(ErrorCode.CONFIG_INVALID, 'the S3 bucket of the reference store is empty');
    if (options.prefix !== '' && (!options.prefix.endsWith('/') || options.prefix.startsWith('/'))) {
      throw new AppError(ErrorCode.CONFIG_INVALID, `the S3 key prefix must be '' or end in '/' (and not start with '/'), got '${options.prefix}'`, {
        details: { prefix: options.prefix },
      });
    }
    const pageSize = options.pageSize ?? MAX_PAGE_SIZE;
    if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > MAX_PAGE_SIZE) {
      throw new AppError(ErrorCode.CONFIG_INVALID, `the S3 list page size must be an integer from 1 to ${MAX_PAGE_SIZE}, got ${pageSize}`);
    }
    this.client = options.client;
    this.bucket = options.bucket;
    this.prefix = options.prefix;
    this.log = options.log;
    this.retry = options.retry;
    this.pageSize = pageSize;
  }

  /** Full object key of `<folder>/<file>` (prefix + key). */
  objectKey(key: string): string {
    const objectKey = this.prefix + checkKey(key, 'key');
    if (Buffer.byteLength(objectKey, 'utf8') > 1024) {
      throw new AppError(ErrorCode.INVALID_ARGUMENT, `invalid S3 reference key '${key}': with the prefix it is longer than S3's 1024 bytes`, { details: { key } });
    }
    return objectKey;
  }

  /** Bucket and object key for Rekognition's `Image.S3Object` ({ Bucket, Name }). */
  location(key: string): { bucket: string; objectKey: string } {
    return { bucket: this.bucket, objectKey: this.objectKey(key) };
  }

  async put(key: string, bytes: Uint8Array, contentType: string): Promise<void> {
    const objectKey = this.objectKey(key);
    // SHA-256 of the caller's bytes: S3 checks the upload against it and keeps it on the object
    // (ChecksumAlgorithm makes it stored), and the SDK checks every GetObject body against it.
    const checksum = createHash('sha256').update(bytes).digest('base64');
    await callAws('s3:PutObject', this.retry, this.log, () =>
      this.client.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: objectKey,
          Body: bytes,
          ContentType: contentType,
          ChecksumAlgorithm: 'SHA256',
          ChecksumSHA256: checksum,
        }),
      ),
    );
  }

  /**
   * The object's bytes, or undefined when there is no such object. A body that does not match the
   * SHA-256 stored by {@link put} is BACKEND_FAILED (the SDK checks it).
   */
  async get(key: string): Promise<Uint8Array | undefined> {
    const objectKey = this.objectKey(key);
    return callAws<Uint8Array | undefined>(
      's3:GetObject',
      this.retry,
      this.log,
      async () => {
        const out = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: objectKey }));
        if (!out.Body) return new Uint8Array(0);
        // Read inside the call, so a connection lost mid-body is retried too.
        return out.Body.transformToByteArray();
      },
      (err) => (isMissingObject(err) ? { value: undefined } : undefined),
    );
  }

  /**
   * Deletes the objects (keys relative to the prefix); keys that do not exist are fine. Per-key
   * failures S3 reports are collected over every batch and thrown as one BACKEND_FAILED.
   */
  async delete(keys: readonly string[]): Promise<void> {
    const objectKeys = [...new Set(keys.map((key) => this.objectKey(key)))];
    await this.deleteObjectKeys(objectKeys);
  }

  /** Deletes every object under `<folder>/`; returns how many there were. */
  async deleteFolder(folder: string): Promise<number> {
    const folderPrefix = this.prefix + checkKey(stripTrailingSlash(folder), 'folder') + '/';
    // Listed completely first, then deleted: deleting between pages could move a page boundary.
    const objectKeys: string[] = [];
    for await (const objectKey of this.listObjectKeys(folderPrefix)) objectKeys.push(objectKey);
    await this.deleteObjectKeys(objectKeys);
    if (objectKeys.length > 0) this.log.debug({ bucket: this.bucket, folder, deleted: objectKeys.length }, 'S3 reference folder deleted');
    return objectKeys.length;
  }

  /** Keys (relative to the prefix) under the prefix, or under `<folder>/`; in S3's (UTF-8 binary) order. */
  async *list(folder?: string): AsyncIterable<string> {
    const listPrefix = folder === undefined ? this.prefix : this.prefix + checkKey(stripTrailingSlash(folder), 'folder') + '/';
    for await (const objectKey of this.listObjectKeys(listPrefix)) yield objectKey.slice(this.prefix.length);
  }

  /** Readiness: the bucket exists and these credentials may use it (HeadBucket). */
  async check(): Promise<void> {
    try {
      await callAws('s3:HeadBucket', this.retry, this.log, () => this.client.send(new HeadBucketCommand({ Bucket: this.bucket })));
    } catch (err) {
      const app = err instanceof AppError ? err : new AppError(ErrorCode.BACKEND_FAILED, String(err), { cause: err });
      const cause = app.cause as { name?: string; $metadata?: { httpStatusCode?: number } } | undefined;
      const status = cause?.$metadata?.httpStatusCode;
      let why: string;
      if (status === 404 || cause?.name === 'NotFound' || cause?.name === 'NoSuchBucket') why = 'does not exist';
      else if (status === 403 || cause?.name === 'Forbidden' || cause?.name === 'AccessDenied') why = 'is not accessible with these credentials (access denied)';
      else why = `cannot be reached (${cause?.name ?? app.code})`;
      throw new AppError(app.code, `S3 bucket '${this.bucket}' ${why}`, {
        cause: app.cause ?? app,
        retryable: app.retryable,
        details: { ...app.details, bucket: this.bucket },
      });
    }
  }

  private async *listObjectKeys(listPrefix: string): AsyncIterable<string> {
    let token: string | undefined;
    do {
      const continuationToken = token;
      const page: ListObjectsV2CommandOutput = await callAws('s3:ListObjectsV2', this.retry, this.log, () =>
        this.client.send(
          new ListObjectsV2Command({
            Bucket: this.bucket,
            Prefix: listPrefix === '' ? undefined : listPrefix,
            MaxKeys: this.pageSize,
            ContinuationToken: continuationToken,
          }),
        ),
      );
      for (const object of page.Contents ?? []) {
        if (object.Key !== undefined && object.Key.startsWith(listPrefix)) yield object.Key;
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }

  private async deleteObjectKeys(objectKeys: readonly string[]): Promise<void> {
    const failures: { key: string; code: string; message: string }[] = [];
    for (let i = 0; i < objectKeys.length; i += DELETE_BATCH) {
      const batch = objectKeys.slice(i, i + DELETE_BATCH);
      const out = await callAws('s3:DeleteObjects', this.retry, this.log, () =>
        this.client.send(new DeleteObjectsCommand({ Bucket: this.bucket, Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true } })),
      );
      for (const e of out.Errors ?? []) {
        failures.push({ key: (e.Key ?? '').slice(this.prefix.length), code: e.Code ?? 'Unknown', message: e.Message ?? '' });
      }
    }
    if (failures.length > 0) {
      const shown = failures
        .slice(0, 5)
        .map((f) => `${f.key} (${f.code})`)
        .join(', ');
      throw new AppError(
        ErrorCode.BACKEND_FAILED,
        `AWS s3:DeleteObjects could not delete ${failures.length} of ${objectKeys.length} objects in bucket '${this.bucket}': ${shown}${failures.length > 5 ? ', ...' : ''}`,
        { details: { operation: 's3:DeleteObjects', bucket: this.bucket, failures: failures.slice(0, 100) } },
      );
    }
  }
}

function stripTrailingSlash(folder: string): string {
  return folder.endsWith('/') ? folder.slice(0, -1) : folder;
}

/** A key (or folder) relative to the prefix: 'a/b.jpg'; never '/a', 'a//b', './a', 'a/../b'. */
function checkKey(key: string, what: 'key' | 'folder'): string {
  const invalid = (why: string): AppError => new AppError(ErrorCode.INVALID_ARGUMENT, `invalid S3 reference ${what} '${key}': ${why}`, { details: { [what]: key } });
  if (typeof key !== 'string' || key === '') throw invalid('it is empty');
  if (key.startsWith('/')) throw invalid("it starts with '/'");
  if (/[\u0000-\u001f\u007f\\]/.test(key)) throw invalid('it contains a control character or a backslash');
  for (const segment of key.split('/')) {
    if (segment === '..' || segment === '.') throw invalid(`it has a '${segment}' segment`);
    if (segment === '') throw invalid('it has an empty segment');
  }
  return key;
}

/** NoSuchKey (or a bare 404); a missing bucket is not a missing object: that stays an error. */
function isMissingObject(err: unknown): boolean {
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number } } | undefined;
  if (e?.name === 'NoSuchBucket') return false;
  return e?.name === 'NoSuchKey' || e?.$metadata?.httpStatusCode === 404;
}
