import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import sharp from 'sharp';
import { decodeImage } from '@facewatch/face';
import { openSetDir } from '@facewatch/face/testing';

const limits = { maxBytes: 50_000_000, maxPixels: 100_000_000, maxSidePx: 100_000 };
const photo = (person: string, file: string): Uint8Array => readFileSync(join(openSetDir(), 'identities', person, file));

/** Mean absolute difference per channel value of two same-size RGB buffers, and the largest. */
function difference(a: Uint8Array, b: Uint8Array): { mean: number; max: number } {
  assert.equal(a.length, b.length);
  let sum = 0,
    max = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i]! - b[i]!);
    sum += d;
    if (d > max) max = d;
  }
  return { mean: sum / a.length, max };
}

const rgb = async (bytes: Uint8Array, ignoreIcc: boolean): Promise<Uint8Array> =>
  new Uint8Array(await sharp(bytes, { ignoreIcc }).rotate().toColourspace('srgb').removeAlpha().raw().toBuffer());

test('a photo with an embedded sRGB profile decodes as if the profile were applied (the conversion is skipped)', async () => {
  const bytes = photo('obama', 'obama3.jpg'); // sRGB IEC61966-2.1
  const decoded = await decodeImage(bytes, limits);
  const applied = await rgb(bytes, false);
  const d = difference(decoded.data, applied);
  assert.ok(d.mean < 0.5 && d.max <= 3, `differs from the converted pixels by ${d.mean.toFixed(3)} on average, ${d.max} at most`);
});

test('a photo with a wide-gamut profile (ProPhoto RGB) is converted to sRGB', async () => {
  const bytes = photo('kit_harington', 'kit2.jpg');
  const decoded = await decodeImage(bytes, limits);
  assert.deepEqual(decoded.data, await rgb(bytes, false));
  const unconverted = difference(decoded.data, await rgb(bytes, true));
  assert.ok(unconverted.mean > 3, `the conversion should move the pixels (mean difference ${unconverted.mean.toFixed(3)})`);
});
