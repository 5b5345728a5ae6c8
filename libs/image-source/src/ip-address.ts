import { isIP } from 'node:net';

/**
 * What an IP address reaches. Only `public` addresses are fetched by default; every other range
 * is refused because it reaches this machine, its network or the cloud provider's metadata service
 * (server-side request forgery). Ranges from the IANA IPv4 and IPv6 special-purpose registries.
 */
export const AddressRange = {
  public: 'public',
  unspecified: 'unspecified',
  loopback: 'loopback',
  private: 'private',
  linkLocal: 'link-local',
  carrierGradeNat: 'carrier-grade-nat',
  uniqueLocal: 'unique-local',
  siteLocal: 'site-local',
  multicast: 'multicast',
  broadcast: 'broadcast',
  documentation: 'documentation',
  benchmarking: 'benchmarking',
  reserved: 'reserved',
  /** Not an IP address at all. */
  invalid: 'invalid',
} as const;
export type AddressRange = (typeof AddressRange)[keyof typeof AddressRange];

// [first address, prefix length, range]; the first match wins, so narrower ranges come first.
const ipv4Ranges: readonly (readonly [string, number, AddressRange])[] = [
  ['0.0.0.0', 8, AddressRange.unspecified], // "this network"; 0.0.0.0 reaches the local host on Linux
  ['10.0.0.0', 8, AddressRange.private],
  ['100.64.0.0', 10, AddressRange.carrierGradeNat],
  ['127.0.0.0', 8, AddressRange.loopback],
  ['169.254.0.0', 16, AddressRange.linkLocal], // includes 169.254.169.254, the cloud metadata service
  ['172.16.0.0', 12, AddressRange.private],
  ['192.0.0.0', 24, AddressRange.reserved], // IETF protocol assignments
  ['192.0.2.0', 24, AddressRange.documentation],
  ['192.88.99.0', 24, AddressRange.reserved], // deprecated 6to4 relay anycast
  ['192.168.0.0', 16, AddressRange.private],
  ['198.18.0.0', 15, AddressRange.benchmarking],
  ['198.51.100.0', 24, AddressRange.documentation],
  ['203.0.113.0', 24, AddressRange.documentation],
  ['224.0.0.0', 4, AddressRange.multicast],
  ['255.255.255.255', 32, AddressRange.broadcast],
  ['240.0.0.0', 4, AddressRange.reserved],
];

const ipv4Table = ipv4Ranges.map(([first, prefix, range]) => {
  const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  return { base: (ipv4ToNumber(first)! & mask) >>> 0, mask, range };
});

/** The range an IPv4 or IPv6 address (optionally `[bracketed]` or with a `%zone`) belongs to. */
export function classifyAddress(address: string): AddressRange {
  let text = address.trim();
  if (text.startsWith('[') && text.endsWith(']')) text = text.slice(1, -1);
  const zone = text.indexOf('%');
  if (zone >= 0) text = text.slice(0, zone);
  switch (isIP(text)) {
    case 4:
      return classifyIpv4(ipv4ToNumber(text)!);
    case 6: {
      const groups = parseIpv6(text);
      return groups === undefined ? AddressRange.invalid : classifyIpv6(groups);
    }
    default:
      return AddressRange.invalid;
  }
}

/** True when the address is globally reachable unicast, i.e. safe to fetch from by default. */
export function isPublicAddress(address: string): boolean {
  return classifyAddress(address) === AddressRange.public;
}

function classifyIpv4(value: number): AddressRange {
  for (const { base, mask, range } of ipv4Table) if ((value & mask) >>> 0 === base) return range;
  return AddressRange.public;
}

function classifyIpv6(g: readonly number[]): AddressRange {
  const [g0 = 0, g1 = 0, g2 = 0, g3 = 0, g4 = 0, g5 = 0, g6 = 0, g7 = 0] = g;
  const embeddedIpv4 = ((g6 << 16) | g7) >>> 0;
  const upperZero = g0 === 0 && g1 === 0 && g2 === 0 && g3 === 0;
  if (upperZero && g4 === 0 && g5 === 0) {
    if (g6 === 0 && g7 === 0) return AddressRange.unspecified;
    if (g6 === 0 && g7 === 1) return AddressRange.loopback;
    return AddressRange.reserved; // deprecated IPv4-compatible ::a.b.c.d
  }
  // IPv4-mapped ::ffff:a.b.c.d and IPv4-translated ::ffff:0:a.b.c.d carry an IPv4 address
  if (upperZero && ((g4 === 0 && g5 === 0xffff) || (g4 === 0xffff && g5 === 0))) return classifyIpv4(embeddedIpv4);
  // NAT64 well-known prefix 64:ff9b::/96 reaches the embedded IPv4 address
  if (g0 === 0x64 && g1 === 0xff9b && g2 === 0 && g3 === 0 && g4 === 0 && g5 === 0) return classifyIpv4(embeddedIpv4);
  if (g0 === 0x64 && g1 === 0xff9b && g2 === 1) return AddressRange.private; // local-use NAT64 64:ff9b:1::/48
  if (g0 === 0x100 && g1 === 0 && g2 === 0 && g3 === 0) return AddressRange.reserved; // discard-only 100::/64
  if (g0 === 0x2001 && g1 === 0x0db8) return AddressRange.documentation;
  if (g0 === 0x2001 && g1 < 0x200) return AddressRange.reserved; // IETF protocol assignments 2001::/23, incl. Teredo
  if (g0 === 0x2002) return classifyIpv4(((g1 << 16) | g2) >>> 0); // 6to4 embeds an IPv4 address
  if (g0 === 0x3fff && g1 < 0x1000) return AddressRange.documentation; // 3fff::/20
  if (g0 === 0x5f00) return AddressRange.reserved; // SRv6 SIDs 5f00::/16
  if ((g0 & 0xfe00) === 0xfc00) return AddressRange.uniqueLocal;
  if ((g0 & 0xffc0) === 0xfe80) return AddressRange.linkLocal;
  if ((g0 & 0xffc0) === 0xfec0) return AddressRange.siteLocal;
  if ((g0 & 0xff00) === 0xff00) return AddressRange.multicast;
  if ((g0 & 0xe000) !== 0x2000) return AddressRange.reserved; // only 2000::/3 is allocated global unicast
  return AddressRange.public;
}

function ipv4ToNumber(text: string): number | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  let value = 0;
  for (const part of parts) {
    if (!/^\d{1,3}$/.test(part)) return undefined;
    const n = Number(part);
    if (n > 255) return undefined;
    value = value * 256 + n;
  }
  return value;
}

/** Eight 16-bit groups, or undefined when malformed (callers check `isIP` first). */
function parseIpv6(text: string): number[] | undefined {
  let head = text;
  let tail: number[] = [];
  const lastColon = head.lastIndexOf(':');
  if (head.includes('.', lastColon)) {
    const v4 = ipv4ToNumber(head.slice(lastColon + 1));
    if (v4 === undefined) return undefined;
    tail = [v4 >>> 16, v4 & 0xffff];
    head = head.slice(0, lastColon + 1);
    // "::1.2.3.4" leaves "::", "1::1.2.3.4" leaves "1::", "1:2:3:4:5:6:1.2.3.4" leaves "1:2:3:4:5:6:"
    if (head.endsWith(':') && !head.endsWith('::')) head = head.slice(0, -1);
  }
  const toGroups = (s: string): number[] | undefined => {
    if (s === '') return [];
    const out: number[] = [];
    for (const piece of s.split(':')) {
      if (!/^[0-9a-fA-F]{1,4}$/.test(piece)) return undefined;
      out.push(parseInt(piece, 16));
    }
    return out;
  };
  const wanted = 8 - tail.length;
  const gap = head.indexOf('::');
  let groups: number[] | undefined;
  if (gap >= 0) {
    const left = toGroups(head.slice(0, gap));
    const right = toGroups(head.slice(gap + 2));
    if (!left || !right || left.length + right.length > wanted - 1) return undefined;
    groups = [...left, ...new Array<number>(wanted - left.length - right.length).fill(0), ...right];
  } else {
    groups = toGroups(head);
    if (!groups || groups.length !== wanted) return undefined;
  }
  return [...groups, ...tail];
}
