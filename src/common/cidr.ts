import ipaddr from 'ipaddr.js';

/**
 * Networks as owners write them and as the service compares them, with
 * ipaddr.js doing the parsing. IPv4 and IPv6 share one 128-bit space: an IPv4
 * address is its IPv4-mapped IPv6 form (::ffff:a.b.c.d), so `1.2.3.0/24`,
 * `::ffff:1.2.3.0/120` and a client seen as `::ffff:1.2.3.4` all agree.
 */

const PREFIX = /^(0|[1-9]\d{0,2})$/;
const MAPPED_PREFIX = 96;

/**
 * An address in the unified space; null if `text` is not one. IPv4 only in
 * four-part decimal: ipaddr.js also reads `127.1` and `0x7f.0.0.1`, which an
 * owner almost certainly did not mean.
 */
function parseAddress(text: string): ipaddr.IPv4 | ipaddr.IPv6 | null {
  if (ipaddr.IPv4.isValidFourPartDecimal(text)) return ipaddr.IPv4.parse(text);
  // A zone (`fe80::1%eth0`) names an interface of one host, not a network.
  if (!text.includes('%') && ipaddr.IPv6.isValid(text)) return ipaddr.IPv6.parse(text);
  return null;
}

/**
 * The canonical form of a CIDR or bare address (a bare address is /32 or
 * /128): host bits cleared, IPv6 in RFC 5952 form, an IPv4-mapped IPv6
 * network of /96 or longer written as the IPv4 network it is. Null when
 * `text` is not an address or network.
 */
export function normaliseCidr(text: string): string | null {
  const slash = text.indexOf('/');
  const address = parseAddress(slash < 0 ? text : text.slice(0, slash));
  if (!address) return null;
  const max = address.kind() === 'ipv4' ? 32 : 128;
  let prefix = max;
  if (slash >= 0) {
    const given = text.slice(slash + 1);
    if (!PREFIX.test(given) || Number(given) > max) return null;
    prefix = Number(given);
  }
  let ip: ipaddr.IPv4 | ipaddr.IPv6 = address;
  if (
    ip.kind() === 'ipv6' &&
    prefix >= MAPPED_PREFIX &&
    (ip as ipaddr.IPv6).isIPv4MappedAddress()
  ) {
    ip = (ip as ipaddr.IPv6).toIPv4Address();
    prefix -= MAPPED_PREFIX;
  }
  if (ip.kind() === 'ipv4') {
    return `${ipaddr.IPv4.networkAddressFromCIDR(`${ip.toString()}/${prefix}`).toString()}/${prefix}`;
  }
  const network = ipaddr.IPv6.networkAddressFromCIDR(`${ip.toNormalizedString()}/${prefix}`);
  return `${network.toRFC5952String()}/${prefix}`;
}

/**
 * A network in the unified 128-bit space, ready for matching: comparing
 * BigInts is several times faster than ipaddr.js's `match`, and this runs on
 * every device request.
 */
export interface Network {
  bits: bigint;
  mask: bigint;
}

const ALL_ONES = (1n << 128n) - 1n;
const MAPPED = 0xffffn << 32n;

/** The address as a 128-bit number; an IPv4 address as its mapped form, without building an IPv6 object. */
function toBigInt(ip: ipaddr.IPv4 | ipaddr.IPv6): bigint {
  if (ip.kind() === 'ipv4') {
    const [a, b, c, d] = (ip as ipaddr.IPv4).octets;
    return MAPPED | BigInt(((a << 24) >>> 0) + (b << 16) + (c << 8) + d);
  }
  return (ip as ipaddr.IPv6).parts.reduce((acc, part) => (acc << 16n) | BigInt(part), 0n);
}

/** A network from a CIDR already normalised (or as PostgreSQL prints a cidr); null if it is none. */
export function toNetwork(cidr: string): Network | null {
  const normalised = normaliseCidr(cidr);
  if (!normalised) return null;
  const [ip, prefix] = ipaddr.parseCIDR(normalised);
  const bits = ip.kind() === 'ipv4' ? prefix + MAPPED_PREFIX : prefix;
  const mask = ALL_ONES ^ ((1n << BigInt(128 - bits)) - 1n);
  return { bits: toBigInt(ip) & mask, mask };
}

/** A client address (as the socket or X-Forwarded-For gives it) in the unified space; null if it is none. */
export function toUnifiedAddress(text: string): bigint | null {
  let ip: ipaddr.IPv4 | ipaddr.IPv6;
  try {
    // Most clients are IPv4: parse that form first (ipaddr.parse tries IPv6 first).
    ip = text.includes(':') ? ipaddr.IPv6.parse(text) : ipaddr.IPv4.parse(text);
  } catch {
    return null;
  }
  return toBigInt(ip);
}

export function inNetwork(address: bigint, network: Network): boolean {
  return (address & network.mask) === network.bits;
}
