import { isIP } from 'node:net';
import { type AppConfig } from '@facewatch/core';

/** What {@link resolveImageInput} and its parts may read, fetch and accept. */
export interface ImageSourcePolicy {
  /** Largest image accepted, in bytes (files, URL bodies and decoded base64 alike). */
  maxBytes: number;
  /** Folders server paths must lie in, after symbolic links are resolved; empty refuses every path. */
  pathRoots: readonly string[];
  url: {
    /** Also fetch hosts resolving to loopback, private, link-local or reserved addresses. */
    allowPrivate: boolean;
    /** `host` (every port) or `host:port` entries fetched whatever their addresses; IPv6 in brackets. */
    allowedHosts: readonly string[];
    /** Limit on the whole fetch: DNS, redirects and body. */
    timeoutMs: number;
    maxRedirects: number;
  };
}

/** The policy from the typed configuration (image size limit from `MAX_IMAGE_BYTES`). */
export function imageSourcePolicy(config: Pick<AppConfig, 'face' | 'imageSource'>): ImageSourcePolicy {
  return {
    maxBytes: config.face.decode.maxBytes,
    pathRoots: config.imageSource.pathRoots,
    url: config.imageSource.url,
  };
}

/**
 * Whether a URL's host is on the allow-list. `hostname` as WHATWG URL gives it (lower case, IPv6
 * in brackets); `port` the effective port. A trailing dot (fully qualified name) is ignored.
 */
export function isAllowListed(hostname: string, port: number, allowedHosts: readonly string[]): boolean {
  const host = stripTrailingDot(hostname.toLowerCase());
  return allowedHosts.some((raw) => {
    const entry = normaliseEntry(raw);
    if (entry === host) return true;
    const colon = entry.lastIndexOf(':');
    if (colon < 0 || entry.endsWith(']')) return false;
    return stripTrailingDot(entry.slice(0, colon)) === host && Number(entry.slice(colon + 1)) === port;
  });
}

function normaliseEntry(raw: string): string {
  const entry = raw.trim().toLowerCase();
  return stripTrailingDot(isIP(entry) === 6 ? `[${entry}]` : entry);
}

function stripTrailingDot(host: string): string {
  return host.endsWith('.') ? host.slice(0, -1) : host;
}
