import { ErrorCode } from '../common/error-codes';
import {
  checkCredentialPolicy,
  CREDENTIAL_POLICY_STATUS,
  type CredentialPolicy,
} from './credential-policy';

const NOW = new Date('2026-11-28T09:00:00.000Z');
const OPEN: CredentialPolicy = { disabledAt: null, expiresAt: null, allowedCidrs: [], scopes: [] };
const at = (ms: number) => new Date(NOW.getTime() + ms);

const check = (
  policy: Partial<CredentialPolicy>,
  { ip = '198.51.100.7', scopes = [] as string[], now = NOW } = {},
) => checkCredentialPolicy({ ...OPEN, ...policy }, ip, scopes, now);

describe('checkCredentialPolicy', () => {
  it('lets a device without a policy through from any address', () => {
    expect(check({})).toBeNull();
    expect(check({}, { ip: '2001:db8::1' })).toBeNull();
    // [] means any address: even one that does not parse is not refused for it.
    expect(check({}, { ip: 'unknown' })).toBeNull();
  });

  describe('disabled', () => {
    it('refuses a disabled device', () => {
      expect(check({ disabledAt: at(-1000) })).toBe(ErrorCode.DeviceDisabled);
    });
  });

  describe('expiry', () => {
    it.each([
      ['a millisecond before', 1, null],
      ['exactly at', 0, ErrorCode.CredentialExpired],
      ['a millisecond after', -1, ErrorCode.CredentialExpired],
      ['a year after', -365 * 86_400_000, ErrorCode.CredentialExpired],
    ])('%s the expiry: %s', (_, offset, expected) => {
      expect(check({ expiresAt: at(offset) })).toBe(expected);
    });
  });

  describe('allowedCidrs', () => {
    it.each([
      ['an IPv4 address in a /24', ['198.51.100.0/24'], '198.51.100.7', null],
      ['an IPv4 address outside it', ['198.51.100.0/24'], '198.51.101.7', ErrorCode.IpNotAllowed],
      ['an exact /32', ['198.51.100.7/32'], '198.51.100.7', null],
      ['the next address after a /32', ['198.51.100.7/32'], '198.51.100.8', ErrorCode.IpNotAllowed],
      [
        'the last list entry',
        ['10.0.0.0/8', '2001:db8::/32', '198.51.100.7/32'],
        '198.51.100.7',
        null,
      ],
      ['an IPv6 address in a /48', ['2001:db8:abcd::/48'], '2001:db8:abcd:12::1', null],
      [
        'an IPv6 address outside it',
        ['2001:db8:abcd::/48'],
        '2001:db8:abce::1',
        ErrorCode.IpNotAllowed,
      ],
      ['IPv6 loopback', ['::1/128'], '::1', null],
      ['an IPv4-mapped client in an IPv4 network', ['1.2.3.0/24'], '::ffff:1.2.3.4', null],
      [
        'an IPv4-mapped client outside it',
        ['1.2.3.0/24'],
        '::ffff:1.2.4.4',
        ErrorCode.IpNotAllowed,
      ],
      ['an IPv4 client in a mapped network', ['::ffff:1.2.3.0/120'], '1.2.3.4', null],
      [
        'an IPv4 client and only IPv6 networks',
        ['2001:db8::/32'],
        '1.2.3.4',
        ErrorCode.IpNotAllowed,
      ],
      [
        'an IPv6 client and only IPv4 networks',
        ['0.0.0.0/0'],
        '2001:db8::1',
        ErrorCode.IpNotAllowed,
      ],
      ['any IPv4 address', ['0.0.0.0/0'], '203.0.113.9', null],
      ['an IPv4 entry after an IPv6 one', ['2001:db8::/32', '10.0.0.0/8'], '10.200.0.1', null],
      [
        'a client address that does not parse',
        ['0.0.0.0/0', '::/0'],
        'unknown',
        ErrorCode.IpNotAllowed,
      ],
      ['an empty client address', ['0.0.0.0/0'], '', ErrorCode.IpNotAllowed],
    ])('%s', (_, allowedCidrs, ip, expected) => {
      expect(check({ allowedCidrs }, { ip })).toBe(expected);
      // The same list a second time comes from the cache and answers the same.
      expect(check({ allowedCidrs: [...allowedCidrs] }, { ip })).toBe(expected);
    });

    it('matches nothing with an entry that does not parse, rather than everything', () => {
      expect(check({ allowedCidrs: ['garbage'] }, { ip: '1.2.3.4' })).toBe(ErrorCode.IpNotAllowed);
      expect(check({ allowedCidrs: ['garbage', '1.2.3.4/32'] }, { ip: '1.2.3.4' })).toBeNull();
    });
  });

  describe('scopes', () => {
    it.each([
      ['no scope required, none held', [], [], null],
      ['no scope required, some held', ['orders:write'], [], null],
      ['the one required scope', ['orders:write'], ['orders:write'], null],
      ['all required scopes', ['a', 'b', 'c'], ['c', 'a'], null],
      ['a scope missing', ['orders:read'], ['orders:write'], ErrorCode.InsufficientScope],
      ['one of two missing', ['a'], ['a', 'b'], ErrorCode.InsufficientScope],
      ['a prefix is not the scope', ['orders'], ['orders:write'], ErrorCode.InsufficientScope],
      ['no scopes held', [], ['orders:write'], ErrorCode.InsufficientScope],
    ])('%s', (_, scopes, required, expected) => {
      expect(check({ scopes }, { scopes: required })).toBe(expected);
    });
  });

  it("checks in the contract's order: disabled, expired, address, scope", () => {
    const failing: CredentialPolicy = {
      disabledAt: at(-1),
      expiresAt: at(-1),
      allowedCidrs: ['10.0.0.0/8'],
      scopes: [],
    };
    const order = [
      ErrorCode.DeviceDisabled,
      ErrorCode.CredentialExpired,
      ErrorCode.IpNotAllowed,
      ErrorCode.InsufficientScope,
    ];
    const seen: (string | null)[] = [];
    const policy = { ...failing };
    seen.push(checkCredentialPolicy(policy, '1.2.3.4', ['x'], NOW));
    policy.disabledAt = null;
    seen.push(checkCredentialPolicy(policy, '1.2.3.4', ['x'], NOW));
    policy.expiresAt = null;
    seen.push(checkCredentialPolicy(policy, '1.2.3.4', ['x'], NOW));
    policy.allowedCidrs = [];
    seen.push(checkCredentialPolicy(policy, '1.2.3.4', ['x'], NOW));
    policy.scopes = ['x'];
    seen.push(checkCredentialPolicy(policy, '1.2.3.4', ['x'], NOW));
    expect(seen).toEqual([...order, null]);
  });

  it('answers 401 for the credential and 403 for a missing scope', () => {
    expect(CREDENTIAL_POLICY_STATUS).toEqual({
      device_disabled: 401,
      credential_expired: 401,
      ip_not_allowed: 401,
      insufficient_scope: 403,
    });
  });
});
