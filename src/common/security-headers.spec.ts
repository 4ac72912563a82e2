import { securityHeaders } from './security-headers';

describe('securityHeaders', () => {
  it("are helmet's, with a CSP that allows scripts from this origin only and never upgrades requests", () => {
    const headers = securityHeaders();
    expect(headers).toMatchObject({
      'x-content-type-options': 'nosniff',
      'x-frame-options': 'SAMEORIGIN',
      'referrer-policy': 'no-referrer',
      'strict-transport-security': 'max-age=31536000; includeSubDomains',
      'cross-origin-opener-policy': 'same-origin',
      'cross-origin-resource-policy': 'same-origin',
    });
    const csp = headers['content-security-policy'].split(';');
    expect(csp).toEqual(
      expect.arrayContaining(["default-src 'self'", "script-src 'self'", "object-src 'none'"]),
    );
    expect(csp.some((d) => d.startsWith('upgrade-insecure-requests'))).toBe(false);
  });

  it('follow the options they are given', () => {
    const headers = securityHeaders({
      contentSecurityPolicy: false,
      frameguard: { action: 'deny' },
    });
    expect(headers['content-security-policy']).toBeUndefined();
    expect(headers['x-frame-options']).toBe('DENY');
  });
});
