/**
 * Whether an image file's own format says bytes are still missing, read from a few bytes at its
 * head and tail (and, for TIFF, its first directory) — never the whole file. An upload written in
 * place with pauses looks like this until its last bytes arrive: a JPEG without its end-of-image
 * marker, a PNG without IEND, a GIF without its trailer, a WebP shorter than its RIFF size, a TIFF
 * whose directory or image data lies past the end. Unknown formats get no verdict (`format`
 * undefined, complete): only stability can tell for them.
 */

export const CheckedFormat = ['jpeg', 'png', 'gif', 'webp', 'tiff'] as const;
export type CheckedFormat = (typeof CheckedFormat)[number];

export type Completeness =
  | { isComplete: true; format: CheckedFormat | undefined }
  /** `format` undefined: too short to tell which format it will be. `missing` says what is absent. */
  | { isComplete: false; format: CheckedFormat | undefined; missing: string };

/** Random access to a file's bytes. */
export interface ByteSource {
  readonly size: number;
  /** Up to `length` bytes from `offset` (fewer at the end of the file). */
  read(offset: number, length: number): Promise<Uint8Array>;
}

/**
 * How much of the tail is read: the end marker may be followed by padding (0x00, and 0xFF for
 * JPEG) that some writers add to fill a block.
 */
export const tailBytes = 64 * 1024;
/** The most TIFF strip or tile entries read (4 bytes each); beyond that only the directory is checked. */
const maxTiffChunks = 16 * 1024;

const signatures: { format: CheckedFormat; bytes: number[] }[] = [
  { format: 'jpeg', bytes: [0xff, 0xd8, 0xff] },
  { format: 'png', bytes: [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a] },
  { format: 'gif', bytes: [0x47, 0x49, 0x46, 0x38] }, // GIF8(7|9)a
  { format: 'tiff', bytes: [0x49, 0x49, 0x2a, 0x00] }, // II*\0, little-endian
  { format: 'tiff', bytes: [0x4d, 0x4d, 0x00, 0x2a] }, // MM\0*, big-endian
];
const riff = [0x52, 0x49, 0x46, 0x46]; // RIFF....WEBP
const webp = [0x57, 0x45, 0x42, 0x50];
/** 0-length chunk, "IEND", its CRC. */
const pngEnd = [0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82];

/** Reads as little as it can of `source` to say whether it is a complete image of a checked format. */
export async function checkImageCompleteness(source: ByteSource): Promise<Completeness> {
  const head = await source.read(0, 16);
  const format = formatOf(head);
  if (format === 'prefix') return { isComplete: false, format: undefined, missing: 'the rest of the file signature' };
  if (format === undefined) return { isComplete: true, format: undefined };
  if (format === 'webp') return checkWebp(head, source.size);
  if (format === 'tiff') return checkTiff(head, source);
  const tail = await source.read(Math.max(0, source.size - tailBytes), tailBytes);
  switch (format) {
    case 'jpeg': {
      const end = withoutPadding(tail, [0x00, 0xff]);
      return endsWith(tail, end, [0xff, 0xd9]) ? complete(format) : incomplete(format, 'the end-of-image marker (FF D9)');
    }
    case 'png':
      return endsWith(tail, withoutPadding(tail, [0x00]), pngEnd) ? complete(format) : incomplete(format, 'the IEND chunk');
    case 'gif':
      // every block before the trailer ends with a 0x00 terminator: checking it too makes a false end 256 times rarer
      return endsWith(tail, withoutPadding(tail, [0x00]), [0x00, 0x3b]) ? complete(format) : incomplete(format, 'the trailer (0x3B)');
  }
}

function formatOf(head: Uint8Array): CheckedFormat | 'prefix' | undefined {
  let isPrefix = false;
  for (const { format, bytes } of signatures) {
    const shared = Math.min(head.length, bytes.length);
    if (!bytes.slice(0, shared).every((b, i) => head[i] === b)) continue;
    if (head.length >= bytes.length) return format;
    isPrefix = true;
  }
  const riffMatches = riff.every((b, i) => i >= head.length || head[i] === b);
  const webpMatches = webp.every((b, i) => 8 + i >= head.length || head[8 + i] === b);
  if (riffMatches && webpMatches) return head.length >= 12 ? 'webp' : 'prefix';
  return isPrefix ? 'prefix' : undefined;
}

function checkWebp(head: Uint8Array, size: number): Completeness {
  // the RIFF size counts every byte after its own 8-byte header
  const riffBytes = 8 + new DataView(head.buffer, head.byteOffset, head.byteLength).getUint32(4, true);
  return riffBytes <= size ? complete('webp') : incomplete('webp', `${riffBytes - size} of the ${riffBytes} bytes its RIFF header announces`);
}

/**
 * Classic TIFF: the first directory must lie inside the file, and so must every strip or tile it
 * points at. libtiff writes the directory last and its offset into the header when the file is
 * closed, so a file in progress usually has offset 0. BigTIFF gets no verdict.
 */
async function checkTiff(head: Uint8Array, source: ByteSource): Promise<Completeness> {
  if (head.length < 8) return incomplete('tiff', 'the rest of the header');
  const le = head[0] === 0x49;
  const u16 = (b: Uint8Array, at: number) => new DataView(b.buffer, b.byteOffset, b.byteLength).getUint16(at, le);
  const u32 = (b: Uint8Array, at: number) => new DataView(b.buffer, b.byteOffset, b.byteLength).getUint32(at, le);
  const size = source.size;
  const ifd = u32(head, 4);
  if (ifd === 0) return incomplete('tiff', 'its image directory (the header does not point to one yet)');
  if (ifd + 2 > size) return incomplete('tiff', `its image directory (at byte ${ifd})`);
  const entries = u16(await source.read(ifd, 2), 0);
  const ifdEnd = ifd + 2 + entries * 12 + 4;
  if (ifdEnd > size) return incomplete('tiff', `the end of its image directory (at byte ${ifdEnd})`);
  const dir = await source.read(ifd + 2, entries * 12 + 4);
  const next = u32(dir, entries * 12);
  if (next !== 0 && next + 2 > size) return incomplete('tiff', `its next image directory (at byte ${next})`);

  // tag → values: SHORT (3) or LONG (4); inline when they fit in the 4-byte value field
  const values = async (tag: number): Promise<number[] | undefined> => {
    for (let i = 0; i < entries; i++) {
      const at = i * 12;
      if (u16(dir, at) !== tag) continue;
      const type = u16(dir, at + 2);
      const count = u32(dir, at + 4);
      const width = type === 3 ? 2 : type === 4 ? 4 : 0;
      if (width === 0 || count > maxTiffChunks) return undefined;
      const bytes = count * width <= 4 ? dir.subarray(at + 8, at + 12) : await source.read(u32(dir, at + 8), count * width);
      if (bytes.length < count * width) return [Infinity];
      return Array.from({ length: count }, (_, k) => (width === 2 ? u16(bytes, k * 2) : u32(bytes, k * 4)));
    }
    return undefined;
  };
  for (const [offsetsTag, countsTag] of [
    [273, 279], // StripOffsets, StripByteCounts
    [324, 325], // TileOffsets, TileByteCounts
  ] as const) {
    const offsets = await values(offsetsTag);
    const counts = await values(countsTag);
    if (offsets === undefined || counts === undefined) continue;
    const dataEnd = Math.max(0, ...offsets.map((offset, k) => offset + (counts[k] ?? 0)));
    if (dataEnd > size) return incomplete('tiff', Number.isFinite(dataEnd) ? `image data up to byte ${dataEnd}` : 'the list of its image data');
  }
  return complete('tiff');
}

/** The length of `bytes` once trailing padding bytes are dropped. */
function withoutPadding(bytes: Uint8Array, padding: number[]): number {
  let end = bytes.length;
  while (end > 0 && padding.includes(bytes[end - 1]!)) end--;
  return end;
}

/** Whether `bytes[0, end)` ends with `suffix`. */
function endsWith(bytes: Uint8Array, end: number, suffix: number[]): boolean {
  return end >= suffix.length && suffix.every((b, i) => bytes[end - suffix.length + i] === b);
}

function complete(format: CheckedFormat): Completeness {
  return { isComplete: true, format };
}

function incomplete(format: CheckedFormat, missing: string): Completeness {
  return { isComplete: false, format, missing };
}

/** A byte array as a {@link ByteSource} (tests, and bytes already in memory). */
export function byteArraySource(bytes: Uint8Array): ByteSource {
  return { size: bytes.length, read: async (offset, length) => bytes.subarray(Math.min(offset, bytes.length), Math.min(offset + length, bytes.length)) };
}
