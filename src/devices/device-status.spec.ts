import { deviceStatus } from './device-status';

const NOW = new Date('2026-11-28T09:00:00.000Z');
const before = new Date(NOW.getTime() - 1);
const after = new Date(NOW.getTime() + 1);

describe('deviceStatus', () => {
  it.each([
    ['nothing set', {}, 'active'],
    ['an expiry ahead', { expiresAt: after }, 'active'],
    ['disabled', { disabledAt: before }, 'disabled'],
    ['disabled with an expiry ahead', { disabledAt: before, expiresAt: after }, 'disabled'],
    ['an expiry reached this instant', { expiresAt: NOW }, 'expired'],
    ['an expiry passed', { expiresAt: before }, 'expired'],
    ['expired wins over disabled', { expiresAt: before, disabledAt: before }, 'expired'],
    ['revoked', { revokedAt: before }, 'revoked'],
    ['revoked wins over expired', { revokedAt: before, expiresAt: before }, 'revoked'],
    [
      'revoked wins over all',
      { revokedAt: before, expiresAt: before, disabledAt: before },
      'revoked',
    ],
  ])('%s: %s', (_, fields, expected) => {
    expect(
      deviceStatus({ revokedAt: null, expiresAt: null, disabledAt: null, ...fields }, NOW),
    ).toBe(expected);
  });
});
