import ipaddr from 'ipaddr.js';

/**
 * Networks as owners write them and as the service compares them, with
 * ipaddr.js doing the parsing. IPv4 and IPv6 share one 128-bit space: an IPv4
 * address is its IPv4-mapped IPv6 form (::ffff:a.b.c.d), so `1.2.3.0/24`,
 * `::ffff:1.2.3.0/120` and a client seen as `::ffff:1.2.3.4` all agree.
 */

export type Network = [ipaddr.IPv6, number];

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

/** A network in the unified space, from a CIDR already normalised (or as PostgreSQL prints a cidr). */
export function toNetwork(cidr: string): Network | null {
  const normalised = normaliseCidr(cidr);
  if (!normalised) return null;
  const [ip, prefix] = ipaddr.parseCIDR(normalised);
  return ip.kind() === 'ipv4'
    ? [(ip as ipaddr.IPv4).toIPv4MappedAddress(), prefix + MAPPED_PREFIX]
    : [ip as ipaddr.IPv6, prefix];
}

/** A client address (as the socket or X-Forwarded-For gives it) in the unified space; null if it is none. */
export function toUnifiedAddress(text: string): ipaddr.IPv6 | null {
  let ip: ipaddr.IPv4 | ipaddr.IPv6;
  try {
    ip = ipaddr.parse(text);
  } catch {
    return null;
  }
  return ip.kind() === 'ipv4' ? (ip as ipaddr.IPv4).toIPv4MappedAddress() : (ip as ipaddr.IPv6);
}
