import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { extractFromTarGz } from './fetch-models.js';

const encoder = new TextEncoder();

interface Entry {
  name: string;
  data: Uint8Array;
  type?: string;
  prefix?: string;
}

/** One 512-byte ustar header. */
function header(entry: { name: string; size: number; type: string; prefix?: string }): Uint8Array {
  const h = new Uint8Array(512);
  const put = (offset: number, length: number, text: string): void => {
    const bytes = encoder.encode(text);
    assert.ok(bytes.length <= length, `${text} does not fit in ${length} bytes`);
    h.set(bytes, offset);
  };
  const octal = (value: number, digits: number): string => value.toString(8).padStart(digits, '0');
  put(0, 100, entry.name);
  put(100, 8, `${octal(0o644, 7)}\0`); // mode
  put(108, 8, `${octal(1000, 7)}\0`); // uid
  put(116, 8, `${octal(1000, 7)}\0`); // gid
  put(124, 12, `${octal(entry.size, 11)}\0`); // size
  put(136, 12, `${octal(1_700_000_000, 11)}\0`); // mtime
  put(148, 8, '        '); // checksum counted as spaces
  put(156, 1, entry.type);
  put(257, 6, 'ustar\0');
  put(263, 2, '00');
  put(265, 32, 'user');
  put(297, 32, 'group');
  if (entry.prefix !== undefined) put(345, 155, entry.prefix);
  let sum = 0;
  for (const b of h) sum += b;
  put(148, 8, `${octal(sum, 6)}\0 `);
  return h;
}

const blocks = (size: number): number => Math.ceil(size / 512) * 512;

/** A tar archive (headers, data padded to 512, two zero end blocks). */
function tar(entries: Entry[]): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const e of entries) {
    parts.push(header({ name: e.name, size: e.data.length, type: e.type ?? '0', prefix: e.prefix }));
    const padded = new Uint8Array(blocks(e.data.length));
    padded.set(e.data);
    parts.push(padded);
  }
  parts.push(new Uint8Array(1024));
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

/** A pax record "<len> <key>=<value>\n" where len counts the whole record. */
function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  const bodyLength = encoder.encode(body).length;
  // the length includes its own digits: find the fix-point
  let len = bodyLength + 1;
  while (String(len).length + bodyLength !== len) len++;
  return `${len}${body}`;
}

const text = encoder.encode('hello, tar\n');
// 1300 bytes: spans three blocks, every byte value appears
const binary = Uint8Array.from({ length: 1300 }, (_, i) => (i * 7 + 3) % 256);

describe('extractFromTarGz', () => {
  test('the header builder writes a valid ustar checksum', () => {
    const h = header({ name: 'a', size: 5, type: '0' });
    const stored = parseInt(new TextDecoder().decode(h.subarray(148, 154)), 8);
    const copy = h.slice();
    copy.fill(32, 148, 156);
    assert.equal(
      stored,
      copy.reduce((s, b) => s + b, 0),
    );
    assert.equal(new TextDecoder().decode(h.subarray(124, 136)), '00000000005\0');
  });

  test('returns each file of a two-file archive byte-identical', () => {
    const tgz = gzipSync(
      tar([
        { name: 'package/README.txt', data: text },
        { name: 'package/models/face.onnx', data: binary },
      ]),
    );
    const first = extractFromTarGz(tgz, 'package/README.txt');
    const second = extractFromTarGz(tgz, 'package/models/face.onnx');
    assert.ok(first instanceof Uint8Array);
    assert.ok(second instanceof Uint8Array);
    assert.deepEqual([...first], [...text]);
    assert.equal(second.length, 1300);
    assert.deepEqual([...second], [...binary]);
  });

  test('a missing path gives undefined', () => {
    const tgz = gzipSync(
      tar([
        { name: 'package/a.txt', data: text },
        { name: 'package/b.bin', data: binary },
      ]),
    );
    assert.equal(extractFromTarGz(tgz, 'package/c.txt'), undefined);
    assert.equal(extractFromTarGz(tgz, 'a.txt'), undefined);
    assert.equal(extractFromTarGz(tgz, 'package/a.tx'), undefined);
  });

  test('an empty file and a file of exactly 512 bytes', () => {
    const exact = Uint8Array.from({ length: 512 }, (_, i) => 255 - (i % 256));
    const tgz = gzipSync(
      tar([
        { name: 'empty', data: new Uint8Array(0) },
        { name: 'exact', data: exact },
        { name: 'after', data: text },
      ]),
    );
    assert.equal(extractFromTarGz(tgz, 'empty')?.length, 0);
    assert.deepEqual([...extractFromTarGz(tgz, 'exact')!], [...exact]);
    assert.deepEqual([...extractFromTarGz(tgz, 'after')!], [...text]);
  });

  test('directories are skipped, not returned', () => {
    const tgz = gzipSync(
      tar([
        { name: 'package/', data: new Uint8Array(0), type: '5' },
        { name: 'package/x', data: text },
      ]),
    );
    assert.equal(extractFromTarGz(tgz, 'package/'), undefined);
    assert.deepEqual([...extractFromTarGz(tgz, 'package/x')!], [...text]);
  });

  test('the ustar prefix field is joined to the name', () => {
    const tgz = gzipSync(tar([{ name: 'face.onnx', prefix: 'package/deep/models', data: binary }]));
    assert.deepEqual([...extractFromTarGz(tgz, 'package/deep/models/face.onnx')!], [...binary]);
    assert.equal(extractFromTarGz(tgz, 'face.onnx'), undefined);
  });

  test('a pax "x" header supplies a long path for the next entry only', () => {
    const longName = `package/${'very-long-directory-name/'.repeat(6)}model-weights.onnx`;
    assert.ok(longName.length > 100);
    const truncated = longName.slice(0, 100);
    const pax = encoder.encode(paxRecord('mtime', '1700000000.5') + paxRecord('path', longName) + paxRecord('linkpath', 'ignored'));
    const tgz = gzipSync(
      tar([
        { name: 'PaxHeader/model-weights.onnx', type: 'x', data: pax },
        { name: truncated, data: binary },
        { name: 'package/short.txt', data: text },
      ]),
    );
    assert.deepEqual([...extractFromTarGz(tgz, longName)!], [...binary]);
    // the header's own (truncated) name is overridden by the pax path
    assert.equal(extractFromTarGz(tgz, truncated), undefined);
    // the pax header itself is not a file
    assert.equal(extractFromTarGz(tgz, 'PaxHeader/model-weights.onnx'), undefined);
    // the entry after it has its own name again
    assert.deepEqual([...extractFromTarGz(tgz, 'package/short.txt')!], [...text]);
  });

  test('pax record lengths count their own digits', () => {
    assert.equal(paxRecord('path', 'a'), '9 path=a\n');
    assert.equal(paxRecord('path', 'xxx'), '12 path=xxx\n');
    const r = paxRecord('path', 'x'.repeat(95));
    assert.equal(r.length, Number(r.slice(0, r.indexOf(' '))));
  });

  test('stops at the end-of-archive blocks', () => {
    // data after the two zero blocks must be ignored
    const archive = tar([{ name: 'one', data: text }]);
    const trailing = tar([{ name: 'two', data: text }]);
    const joined = new Uint8Array(archive.length + trailing.length);
    joined.set(archive);
    joined.set(trailing, archive.length);
    const tgz = gzipSync(joined);
    assert.deepEqual([...extractFromTarGz(tgz, 'one')!], [...text]);
    assert.equal(extractFromTarGz(tgz, 'two'), undefined);
  });

  test('non-gzip input throws', () => {
    assert.throws(() => extractFromTarGz(tar([{ name: 'one', data: text }]), 'one'));
  });
});
