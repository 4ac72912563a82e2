import { inNetwork, normaliseCidr, toNetwork, toUnifiedAddress } from './cidr';

describe('normaliseCidr', () => {
  it.each([
    ['203.0.113.7', '203.0.113.7/32'],
    ['203.0.113.0/24', '203.0.113.0/24'],
    ['203.0.113.77/24', '203.0.113.0/24'],
    ['10.1.2.3/8', '10.0.0.0/8'],
    ['0.0.0.0/0', '0.0.0.0/0'],
    ['192.0.2.1/32', '192.0.2.1/32'],
    ['2001:db8::1', '2001:db8::1/128'],
    ['2001:DB8:0:0:0:0:0:1/128', '2001:db8::1/128'],
    ['2001:db8:abcd:12::5/48', '2001:db8:abcd::/48'],
    ['2001:db8:0:1:1:1:1:1/128', '2001:db8:0:1:1:1:1:1/128'],
    ['::/0', '::/0'],
    ['::1', '::1/128'],
    ['fe80::/10', 'fe80::/10'],
    // IPv4-mapped IPv6: the IPv4 network it is, when the prefix covers the mapping.
    ['::ffff:198.51.100.7', '198.51.100.7/32'],
    ['::ffff:198.51.100.0/120', '198.51.100.0/24'],
    ['::FFFF:c633:6407', '198.51.100.7/32'],
    ['::ffff:0:0/96', '0.0.0.0/0'],
    ['::ffff:0:0/95', '::fffe:0:0/95'],
  ])('%s → %s', (input, expected) => {
    expect(normaliseCidr(input)).toBe(expected);
    // Normalising is idempotent: a stored value reads back as itself.
    expect(normaliseCidr(expected)).toBe(expected);
  });

  it.each([
    '',
    ' ',
    '10.0.0.1 ',
    '10.0.0.256',
    '10.0.0',
    '10.1',
    '127.1',
    '0x7f.0.0.1',
    '2130706433',
    '010.0.0.1',
    '10.0.0.0/33',
    '10.0.0.0/-1',
    '10.0.0.0/',
    '10.0.0.0/08',
    '10.0.0.0/8/8',
    '10.0.0.0/ 8',
    '/8',
    '2001:db8::/129',
    '2001:db8:::1',
    '2001:db8::g',
    'fe80::1%eth0',
    'fe80::1%eth0/64',
    'localhost',
    '::ffff:1.2.3.4/129',
  ])('refuses %j', (input) => {
    expect(normaliseCidr(input)).toBeNull();
  });
});

describe('toNetwork and toUnifiedAddress: one space for IPv4 and IPv6', () => {
  const within = (address: string, cidr: string) =>
    inNetwork(toUnifiedAddress(address)!, toNetwork(cidr)!);

  it.each([
    ['1.2.3.4', '1.2.3.0/24', true],
    ['::ffff:1.2.3.4', '1.2.3.0/24', true],
    ['1.2.3.4', '::ffff:1.2.3.0/120', true],
    ['1.2.4.1', '1.2.3.0/24', false],
    ['2001:db8::5', '2001:db8::/32', true],
    ['2001:db9::5', '2001:db8::/32', false],
    ['2001:db8::5', '0.0.0.0/0', false],
    ['1.2.3.4', '0.0.0.0/0', true],
    // ::/0 is every address, IPv4 ones (as mapped addresses) included.
    ['1.2.3.4', '::/0', true],
    ['2001:db8::', '2001:db8::/128', true],
    ['2001:db8::1', '2001:db8::/128', false],
    ['2001:db8:ffff:ffff:ffff:ffff:ffff:ffff', '2001:db8::/32', true],
    ['2001:db9::', '2001:db8::/32', false],
    ['1.2.3.255', '1.2.3.0/24', true],
    ['1.2.4.0', '1.2.3.0/24', false],
    ['255.255.255.255', '0.0.0.0/0', true],
    ['ffff::1', '::/0', true],
    ['8000::', '::/1', false],
    ['7fff::', '::/1', true],
  ])('%s in %s: %s', (address, cidr, expected) => {
    expect(within(address, cidr)).toBe(expected);
  });

  it('has no address for what is not one', () => {
    expect(toUnifiedAddress('')).toBeNull();
    expect(toUnifiedAddress('not an ip')).toBeNull();
    expect(toNetwork('10.0.0.0/33')).toBeNull();
  });
});
