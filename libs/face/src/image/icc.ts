/**
 * Reads just enough of an ICC colour profile (ICC.1, versions 2 and 4) to tell whether it
 * describes sRGB: an RGB matrix/TRC profile whose colorants are sRGB's primaries (adapted to D50,
 * as profiles store them) and whose tone curves follow sRGB's transfer function (a plain 2.2 gamma
 * passes too: it differs from sRGB by less than 1 % of the range). Anything else — wide-gamut
 * profiles (Adobe RGB, ProPhoto, Display P3), LUT-only or malformed profiles — is "not sRGB".
 *
 * Why: converting a photo from its embedded profile to sRGB (lcms) cost as much as decoding it,
 * and for an sRGB profile it changes nothing, so the decoder skips the conversion for those only.
 */
export function isSrgbProfile(icc: Uint8Array): boolean {
  try {
    return readsAsSrgb(icc);
  } catch {
    return false; // a truncated or malformed profile: let the decoder's own handling decide
  }
}

/** sRGB's red, green and blue colorants (XYZ, D50-adapted), as in the IEC 61966-2.1 profile. */
const SRGB_COLORANTS: Readonly<Record<string, readonly [number, number, number]>> = {
  rXYZ: [0.4361, 0.2225, 0.0139],
  gXYZ: [0.3851, 0.7169, 0.0971],
  bXYZ: [0.1431, 0.0606, 0.7141],
};
/** Colorants within this of sRGB's: s15Fixed16 rounding and D50 adaptation variants differ by < 0.002. */
const COLORANT_TOLERANCE = 0.005;
/** Tone curves within this of sRGB's at the probe points (a 2.2 gamma differs by ≤ 0.0045). */
const CURVE_TOLERANCE = 0.01;
const CURVE_PROBES = [0.1, 0.25, 0.5, 0.75, 0.9];

const srgbToLinear = (v: number): number => (v <= 0.04045 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4);

function readsAsSrgb(icc: Uint8Array): boolean {
  const view = new DataView(icc.buffer, icc.byteOffset, icc.byteLength);
  const text = (offset: number): string => String.fromCharCode(icc[offset]!, icc[offset + 1]!, icc[offset + 2]!, icc[offset + 3]!);
  if (icc.length < 132 || text(16) !== 'RGB ' || text(20) !== 'XYZ ') return false;
  const count = view.getUint32(128);
  const tags = new Map<string, number>();
  for (let i = 0; i < count && 132 + i * 12 + 12 <= icc.length; i++) {
    const at = 132 + i * 12;
    tags.set(text(at), view.getUint32(at + 4));
  }
  const fixed = (offset: number): number => view.getInt32(offset) / 65536;
  for (const [tag, expected] of Object.entries(SRGB_COLORANTS)) {
    const at = tags.get(tag);
    if (at === undefined || text(at) !== 'XYZ ') return false;
    if (expected.some((v, i) => Math.abs(fixed(at + 8 + 4 * i) - v) > COLORANT_TOLERANCE)) return false;
  }
  for (const tag of ['rTRC', 'gTRC', 'bTRC']) {
    const at = tags.get(tag);
    if (at === undefined) return false;
    const curve = toneCurve(view, text(at), at);
    if (!curve || CURVE_PROBES.some((x) => Math.abs(curve(x) - srgbToLinear(x)) > CURVE_TOLERANCE)) return false;
  }
  return true;
}

/** The tone curve of a 'curv' or 'para' tag at `at`, or undefined for other types. */
function toneCurve(view: DataView, type: string, at: number): ((x: number) => number) | undefined {
  if (type === 'curv') {
    const n = view.getUint32(at + 8);
    if (n === 0) return (x) => x;
    if (n === 1) {
      const gamma = view.getUint16(at + 12) / 256;
      return (x) => x ** gamma;
    }
    return (x) => {
      const pos = x * (n - 1);
      const i = Math.min(n - 2, Math.floor(pos));
      const a = view.getUint16(at + 12 + 2 * i) / 65535,
        b = view.getUint16(at + 12 + 2 * (i + 1)) / 65535;
      return a + (b - a) * (pos - i);
    };
  }
  if (type === 'para') {
    const fn = view.getUint16(at + 8);
    const p = (i: number): number => view.getInt32(at + 12 + 4 * i) / 65536;
    const g = p(0);
    switch (fn) {
      case 0:
        return (x) => x ** g;
      case 1:
        return (x) => (x >= -p(2) / p(1) ? (p(1) * x + p(2)) ** g : 0);
      case 2:
        return (x) => (x >= -p(2) / p(1) ? (p(1) * x + p(2)) ** g + p(3) : p(3));
      case 3:
        return (x) => (x >= p(4) ? (p(1) * x + p(2)) ** g : p(3) * x);
      case 4:
        return (x) => (x >= p(4) ? (p(1) * x + p(2)) ** g + p(5) : p(3) * x + p(6));
      default:
        return undefined;
    }
  }
  return undefined;
}
