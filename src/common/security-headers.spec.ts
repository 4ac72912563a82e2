import {
  API_SECURITY_HEADERS,
  DOCUMENT_SECURITY_HEADERS,
  securityHeaders,
  securityHeadersFor,
} from './security-headers';

describe('security headers', () => {
  it("on /docs are helmet's, with a CSP that allows scripts from this origin only and never upgrades requests", () => {
    expect(DOCUMENT_SECURITY_HEADERS).toMatchObject({
      'x-content-type-options': 'nosniff',
      'x-frame-options': 'SAMEORIGIN',
      'referrer-policy': 'no-referrer',
      'strict-transport-security': 'max-age=31536000; includeSubDomains',
      'cross-origin-opener-policy': 'same-origin',
      'cross-origin-resource-policy': 'same-origin',
    });
    const csp = DOCUMENT_SECURITY_HEADERS['content-security-policy'].split(';');
    expect(csp).toEqual(
      expect.arrayContaining(["default-src 'self'", "script-src 'self'", "object-src 'none'"]),
    );
    expect(csp.some((d) => d.startsWith('upgrade-insecure-requests'))).toBe(false);
  });

  it('on JSON answers allow nothing to load, run or frame them, and leave page-only headers off', () => {
    expect(API_SECURITY_HEADERS).toEqual({
      'content-security-policy': "default-src 'none';frame-ancestors 'none'",
      'cross-origin-resource-policy': 'same-origin',
      'strict-transport-security': 'max-age=31536000; includeSubDomains',
      'x-content-type-options': 'nosniff',
    });
  });

  it.each([
    ['/docs', DOCUMENT_SECURITY_HEADERS],
    ['/docs/', DOCUMENT_SECURITY_HEADERS],
    ['/docs/swagger-ui-bundle.js', DOCUMENT_SECURITY_HEADERS],
    ['/docs-json', DOCUMENT_SECURITY_HEADERS],
    ['/docs-yaml', DOCUMENT_SECURITY_HEADERS],
    ['/docs?tag=devices', DOCUMENT_SECURITY_HEADERS],
    ['/docsfoo', API_SECURITY_HEADERS],
    ['/docs-other', API_SECURITY_HEADERS],
    ['/api/v1/devices', API_SECURITY_HEADERS],
    ['/health/live', API_SECURITY_HEADERS],
    ['/api/v1/docs', API_SECURITY_HEADERS],
  ])('for %s are the right set', (url, expected) => {
    expect(securityHeadersFor(url)).toBe(expected);
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
