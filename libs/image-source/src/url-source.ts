import type { LookupAddress } from 'node:dns';
import { lookup } from 'node:dns/promises';
import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import { AppError, ErrorCode } from '@facewatch/core';
import { classifyAddress, AddressRange } from './ip-address.js';
import { isAllowListed, type ImageSourcePolicy } from './policy.js';

export interface UrlImage {
  bytes: Uint8Array;
  /** The URL the bytes came from, after redirects (credentials removed). */
  finalUrl: string;
}

export interface FetchImageOptions {
  /** Aborts the fetch early (e.g. the client went away); reported as URL_FETCH_FAILED. */
  signal?: AbortSignal;
}

const redirectStatuses = new Set([301, 302, 303, 307, 308]);

/**
 * Fetches an http(s) image URL without letting it reach the server's own network (SSRF):
 * - only `http:` and `https:` (anything else: URL_NOT_ALLOWED);
 * - the host is resolved once and refused if ANY of its addresses is not public (loopback,
 *   private, link-local incl. cloud metadata, carrier-grade NAT, unique-local, multicast,
 *   reserved, IPv4-mapped forms of those), unless the host is allow-listed or private addresses
 *   are allowed (URL_NOT_ALLOWED);
 * - the connection goes to exactly the addresses checked (a pinned `lookup`), so a second DNS
 *   answer cannot swap in another address (DNS rebinding); TLS still verifies the host name;
 * - at most `policy.url.maxRedirects` redirects, each hop checked the same way;
 * - `policy.url.timeoutMs` for the whole fetch; the body is limited to `policy.maxBytes` while it
 *   streams (IMAGE_TOO_LARGE);
 * - error statuses, refused connections, DNS failures and time-outs: URL_FETCH_FAILED (retryable).
 */
export async function fetchImageUrl(input: string, policy: Pick<ImageSourcePolicy, 'maxBytes' | 'url'>, options: FetchImageOptions = {}): Promise<UrlImage> {
  let url = parseHttpUrl(input);
  const timeout = AbortSignal.timeout(policy.url.timeoutMs);
  const signal = options.signal ? AbortSignal.any([timeout, options.signal]) : timeout;
  try {
    for (let redirects = 0; ; redirects++) {
      const addresses = await checkedAddresses(url, policy, signal);
      const response = await get(url, addresses, signal);
      const status = response.statusCode ?? 0;
      const location = response.headers.location;
      if (redirectStatuses.has(status) && location !== undefined) {
        response.destroy();
        if (redirects >= policy.url.maxRedirects) {
          throw fetchFailed(url, `more than ${policy.url.maxRedirects} redirects`);
        }
        url = parseHttpUrl(new URL(location, url).href);
        continue;
      }
      if (status < 200 || status > 299) {
        response.destroy();
        throw fetchFailed(url, `the server answered HTTP ${status}`, { status });
      }
      return { bytes: await readBody(response, url, policy.maxBytes), finalUrl: displayUrl(url) };
    }
  } catch (err) {
    if (err instanceof AppError) throw err;
    if (timeout.aborted) throw fetchFailed(url, `timed out after ${policy.url.timeoutMs} ms`, { timeoutMs: policy.url.timeoutMs }, err);
    if (signal.aborted) throw fetchFailed(url, 'the fetch was cancelled', {}, err);
    const code = (err as NodeJS.ErrnoException).code;
    throw fetchFailed(url, code === undefined ? (err as Error).message : `connection failed (${code})`, code === undefined ? {} : { errno: code }, err);
  }
}

/**
 * Checks that a URL may be called under the policy (http/https, a host that resolves to public
 * addresses unless allow-listed or private ones are allowed): URL_NOT_ALLOWED or INVALID_ARGUMENT
 * otherwise. For URLs stored to be called later (webhooks); the call checks again.
 */
export async function checkUrlAllowed(input: string, policy: Pick<ImageSourcePolicy, 'url'>): Promise<URL> {
  const url = parseHttpUrl(input);
  const signal = AbortSignal.timeout(policy.url.timeoutMs);
  await checkedAddresses(url, policy, signal);
  return url;
}

export interface PostResult {
  status: number;
}

/**
 * POSTs a body to a URL under the same guard as image fetches (resolved once, every address
 * checked, the connection pinned to them; no redirects followed). Resolves with the answer's
 * status whatever it is (the caller decides); refused, unresolvable, timed-out and broken
 * connections reject with URL_FETCH_FAILED, a forbidden address with URL_NOT_ALLOWED.
 */
export async function guardedPost(input: string, body: string, headers: Record<string, string>, policy: Pick<ImageSourcePolicy, 'url'>, timeoutMs: number): Promise<PostResult> {
  const url = parseHttpUrl(input);
  const signal = AbortSignal.timeout(timeoutMs);
  try {
    const addresses = await checkedAddresses(url, policy, signal);
    const client = url.protocol === 'https:' ? https : http;
    const response = await new Promise<IncomingMessage>((resolve, reject) => {
      const request = client.request(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)), 'user-agent': 'facewatch', ...headers },
        lookup: pinnedLookup(addresses),
        agent: false,
        signal,
      });
      request.once('response', resolve);
      request.once('error', reject);
      request.end(body);
    });
    // the answer's body is not needed: read (and drop) a little of it, then close
    response.resume();
    response.destroy();
    return { status: response.statusCode ?? 0 };
  } catch (err) {
    if (err instanceof AppError) throw err;
    if (signal.aborted) throw fetchFailed(url, `no answer within ${timeoutMs} ms`, { timeoutMs }, err);
    const code = (err as NodeJS.ErrnoException).code;
    throw fetchFailed(url, code === undefined ? (err as Error).message : `connection failed (${code})`, code === undefined ? {} : { errno: code }, err);
  }
}

/** The URL with user name and password removed: what logs and stored identifiers may show. */
export function displayUrl(url: URL | string): string {
  const copy = new URL(url);
  copy.username = '';
  copy.password = '';
  return copy.href;
}

function parseHttpUrl(input: string): URL {
  let url: URL;
  try {
    url = new URL(input.trim());
  } catch (err) {
    throw new AppError(ErrorCode.INVALID_ARGUMENT, 'the image URL is not a valid URL', { cause: err });
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new AppError(ErrorCode.URL_NOT_ALLOWED, `only http and https URLs are fetched, not ${url.protocol}`, {
      details: { protocol: url.protocol },
    });
  }
  return url;
}

function effectivePort(url: URL): number {
  return url.port === '' ? (url.protocol === 'https:' ? 443 : 80) : Number(url.port);
}

/** Resolves the URL's host and returns the addresses it may connect to, or throws URL_NOT_ALLOWED. */
async function checkedAddresses(url: URL, policy: Pick<ImageSourcePolicy, 'url'>, signal: AbortSignal): Promise<LookupAddress[]> {
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  const family = isIP(host);
  let addresses: LookupAddress[];
  if (family !== 0) {
    addresses = [{ address: host, family }];
  } else {
    try {
      addresses = await abortable(lookup(host, { all: true, verbatim: true }), signal);
    } catch (err) {
      if (signal.aborted) throw err;
      throw fetchFailed(url, `the host ${host} cannot be resolved`, { host }, err);
    }
    if (addresses.length === 0) throw fetchFailed(url, `the host ${host} has no address`, { host });
  }
  if (policy.url.allowPrivate || isAllowListed(url.hostname, effectivePort(url), policy.url.allowedHosts)) return addresses;
  for (const { address } of addresses) {
    const range = classifyAddress(address);
    if (range !== AddressRange.public) {
      throw new AppError(ErrorCode.URL_NOT_ALLOWED, `${host} resolves to a ${range} address, which is not fetched`, {
        details: { url: displayUrl(url), host, address, range },
      });
    }
  }
  return addresses;
}

/** A `lookup` for http.request that answers only with the addresses already checked. */
function pinnedLookup(addresses: readonly LookupAddress[]): LookupFunction {
  return (_hostname, options, callback) => {
    const family = options.family === 4 || options.family === 'IPv4' ? 4 : options.family === 6 || options.family === 'IPv6' ? 6 : 0;
    const candidates = family === 0 ? addresses : addresses.filter((a) => a.family === family);
    const first = candidates[0];
    if (first === undefined) {
      const err: NodeJS.ErrnoException = Object.assign(new Error(`no checked IPv${family} address`), { code: 'ENOTFOUND' });
      callback(err, '', 0);
    } else if (options.all) {
      callback(null, [...candidates]);
    } else {
      callback(null, first.address, first.family);
    }
  };
}

function get(url: URL, addresses: readonly LookupAddress[], signal: AbortSignal): Promise<IncomingMessage> {
  const client = url.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const request = client.request(url, {
      method: 'GET',
      headers: { accept: 'image/*', 'user-agent': 'facewatch' },
      lookup: pinnedLookup(addresses),
      // a fresh connection per request: a pooled socket would skip the checked lookup
      agent: false,
      signal,
    });
    request.once('response', resolve);
    request.once('error', reject);
    request.end();
  });
}

async function readBody(response: IncomingMessage, url: URL, maxBytes: number): Promise<Uint8Array> {
  const declared = Number(response.headers['content-length']);
  if (Number.isFinite(declared) && declared > maxBytes) {
    response.destroy();
    throw tooLarge(url, declared, maxBytes);
  }
  const chunks: Buffer[] = [];
  let length = 0;
  for await (const chunk of response as AsyncIterable<Buffer>) {
    length += chunk.length;
    if (length > maxBytes) {
      response.destroy();
      throw tooLarge(url, length, maxBytes);
    }
    chunks.push(chunk);
  }
  if (!response.complete) throw fetchFailed(url, 'the connection closed before the whole body arrived');
  const bytes = new Uint8Array(length);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.length;
  }
  return bytes;
}

function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(err);
      },
    );
  });
}

function fetchFailed(url: URL, reason: string, details: Record<string, unknown> = {}, cause?: unknown): AppError {
  return new AppError(ErrorCode.URL_FETCH_FAILED, `${displayUrl(url)} could not be fetched: ${reason}`, {
    retryable: true,
    cause,
    details: { url: displayUrl(url), ...details },
  });
}

function tooLarge(url: URL, bytes: number, maxBytes: number): AppError {
  return new AppError(ErrorCode.IMAGE_TOO_LARGE, `${displayUrl(url)} has more than ${maxBytes} bytes`, {
    details: { url: displayUrl(url), bytes, maxBytes },
  });
}
