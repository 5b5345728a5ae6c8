import { createHmac, timingSafeEqual } from 'node:crypto';

/** Headers of every webhook delivery (docs/webhooks.md shows how to verify them). */
export const WebhookHeader = {
  /** Unix seconds when the request was signed. */
  timestamp: 'X-Facewatch-Timestamp',
  /** `v1=<hex HMAC-SHA256 of "<timestamp>.<body>" with the webhook's secret>`. */
  signature: 'X-Facewatch-Signature',
  /** The delivery's id: the same on every retry of it, so a receiver can drop repeats. */
  delivery: 'X-Facewatch-Delivery',
  /** face.matched or face.review. */
  event: 'X-Facewatch-Event',
} as const;

/** `v1=` + hex HMAC-SHA256(secret, `${timestamp}.${body}`). */
export function signWebhook(secret: string, timestamp: number, body: string): string {
  return `v1=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

/**
 * What a receiver does: recompute the signature over the timestamp and the raw body, compare in
 * constant time, and refuse timestamps further than `toleranceS` from now (replays).
 */
export function verifyWebhook(secret: string, timestampHeader: string, signatureHeader: string, body: string, nowS = Math.floor(Date.now() / 1000), toleranceS = 300): boolean {
  const timestamp = Number(timestampHeader);
  if (!Number.isSafeInteger(timestamp) || Math.abs(nowS - timestamp) > toleranceS) return false;
  const expected = Buffer.from(signWebhook(secret, timestamp, body));
  const given = Buffer.from(signatureHeader);
  return given.length === expected.length && timingSafeEqual(given, expected);
}
