import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { isSrgbProfile } from './icc.js';

type Xyz = readonly [number, number, number];
const SRGB: Record<'r' | 'g' | 'b', Xyz> = { r: [0.4361, 0.2225, 0.0139], g: [0.3851, 0.7169, 0.0971], b: [0.1431, 0.0606, 0.7141] };
const ADOBE_RGB: Record<'r' | 'g' | 'b', Xyz> = { r: [0.6097, 0.3111, 0.0195], g: [0.2053, 0.6257, 0.0609], b: [0.1492, 0.0632, 0.7446] };

const fixed = (v: number): number => Math.round(v * 65536);
const xyzTag = (v: Xyz): Uint8Array => {
  const b = new DataView(new ArrayBuffer(20));
  [...'XYZ '].forEach((c, i) => b.setUint8(i, c.charCodeAt(0)));
  v.forEach((x, i) => b.setInt32(8 + 4 * i, fixed(x)));
  return new Uint8Array(b.buffer);
};
const curvTag = (entries: readonly number[], gamma?: number): Uint8Array => {
  const n = gamma === undefined ? entries.length : 1;
  const b = new DataView(new ArrayBuffer(12 + 2 * Math.max(n, 1) + 2));
  [...'curv'].forEach((c, i) => b.setUint8(i, c.charCodeAt(0)));
  b.setUint32(8, n);
  if (gamma !== undefined) b.setUint16(12, Math.round(gamma * 256));
  else entries.forEach((e, i) => b.setUint16(12 + 2 * i, Math.round(e * 65535)));
  return new Uint8Array(b.buffer);
};
/** sRGB's transfer function as a parametric curve of type 3, as in compact sRGB profiles. */
const srgbPara = (): Uint8Array => {
  const params = [2.4, 1 / 1.055, 0.055 / 1.055, 1 / 12.92, 0.04045];
  const b = new DataView(new ArrayBuffer(12 + 4 * params.length));
  [...'para'].forEach((c, i) => b.setUint8(i, c.charCodeAt(0)));
  b.setUint16(8, 3);
  params.forEach((p, i) => b.setInt32(12 + 4 * i, fixed(p)));
  return new Uint8Array(b.buffer);
};
const srgbEotf = (v: number): number => (v <= 0.04045 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4);

/** A minimal ICC profile: header, tag table and the given tags. */
function profile(tags: Record<string, Uint8Array>, space = 'RGB '): Uint8Array {
  const entries = Object.entries(tags);
  let offset = 132 + 12 * entries.length;
  const size = offset + entries.reduce((n, [, d]) => n + d.length + ((4 - (d.length % 4)) % 4), 0);
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  view.setUint32(0, size);
  [...space].forEach((c, i) => (out[16 + i] = c.charCodeAt(0)));
  [...'XYZ '].forEach((c, i) => (out[20 + i] = c.charCodeAt(0)));
  view.setUint32(128, entries.length);
  entries.forEach(([sig, data], i) => {
    const at = 132 + 12 * i;
    [...sig].forEach((c, j) => (out[at + j] = c.charCodeAt(0)));
    view.setUint32(at + 4, offset);
    view.setUint32(at + 8, data.length);
    out.set(data, offset);
    offset += data.length + ((4 - (data.length % 4)) % 4);
  });
  return out;
}
const rgbProfile = (colorants: Record<'r' | 'g' | 'b', Xyz>, trc: Uint8Array): Uint8Array =>
  profile({ rXYZ: xyzTag(colorants.r), gXYZ: xyzTag(colorants.g), bXYZ: xyzTag(colorants.b), rTRC: trc, gTRC: trc, bTRC: trc });

describe('isSrgbProfile', () => {
  it('takes sRGB primaries with the parametric sRGB curve', () => {
    assert.equal(isSrgbProfile(rgbProfile(SRGB, srgbPara())), true);
  });

  it('takes sRGB primaries with a sampled sRGB curve and with a 2.2 gamma', () => {
    const sampled = Array.from({ length: 1024 }, (_, i) => srgbEotf(i / 1023));
    assert.equal(isSrgbProfile(rgbProfile(SRGB, curvTag(sampled))), true);
    assert.equal(isSrgbProfile(rgbProfile(SRGB, curvTag([], 2.2))), true);
  });

  it('refuses wide-gamut primaries (Adobe RGB) even with an sRGB-like curve', () => {
    assert.equal(isSrgbProfile(rgbProfile(ADOBE_RGB, curvTag([], 2.2))), false);
  });

  it('refuses sRGB primaries with other tone curves (linear, gamma 1.8)', () => {
    assert.equal(isSrgbProfile(rgbProfile(SRGB, curvTag([]))), false);
    assert.equal(isSrgbProfile(rgbProfile(SRGB, curvTag([], 1.8))), false);
  });

  it('refuses profiles missing a colorant or curve, grey and CMYK profiles', () => {
    const trc = srgbPara();
    assert.equal(isSrgbProfile(profile({ rXYZ: xyzTag(SRGB.r), gXYZ: xyzTag(SRGB.g), rTRC: trc, gTRC: trc, bTRC: trc })), false);
    assert.equal(isSrgbProfile(profile({ rXYZ: xyzTag(SRGB.r), gXYZ: xyzTag(SRGB.g), bXYZ: xyzTag(SRGB.b), rTRC: trc, gTRC: trc })), false);
    assert.equal(isSrgbProfile(profile({ kTRC: trc }, 'GRAY')), false);
    assert.equal(isSrgbProfile(profile({}, 'CMYK')), false);
  });

  it('refuses truncated and empty data without throwing', () => {
    const whole = rgbProfile(SRGB, srgbPara());
    for (const cut of [0, 10, 131, 140, 200, whole.length - 8]) assert.equal(isSrgbProfile(whole.subarray(0, cut)), false, `cut at ${cut}`);
  });
});
