/** Stable, snake_case error codes of the HTTP contract; clients switch on these. */
export const ErrorCode = {
  ValidationFailed: 'validation_failed',
  WeakPassword: 'weak_password',
  Unauthorized: 'unauthorized',
  InvalidCredentials: 'invalid_credentials',
  Forbidden: 'forbidden',
  NotFound: 'not_found',
  DeviceNotFound: 'device_not_found',
  MethodNotAllowed: 'method_not_allowed',
  Conflict: 'conflict',
  EmailTaken: 'email_taken',
  DeviceNameTaken: 'device_name_taken',
  DeviceRevoked: 'device_revoked',
  DeviceLimitReached: 'device_limit_reached',
  PayloadTooLarge: 'payload_too_large',
  UnsupportedMediaType: 'unsupported_media_type',
  RequestTimeout: 'request_timeout',
  HeadersTooLarge: 'headers_too_large',
  RateLimited: 'rate_limited',
  DeviceAuthMalformed: 'device_auth_malformed',
  TimestampOutOfRange: 'timestamp_out_of_range',
  InvalidSignature: 'invalid_signature',
  NonceReplayed: 'nonce_replayed',
  DeviceDisabled: 'device_disabled',
  CredentialExpired: 'credential_expired',
  IpNotAllowed: 'ip_not_allowed',
  InsufficientScope: 'insufficient_scope',
  ServiceUnavailable: 'service_unavailable',
  InternalError: 'internal_error',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** The code an error gets when the code that raised it did not name one. */
export function defaultCodeFor(status: number): ErrorCode {
  switch (status) {
    case 400:
      return ErrorCode.ValidationFailed;
    case 401:
      return ErrorCode.Unauthorized;
    case 403:
      return ErrorCode.Forbidden;
    case 404:
      return ErrorCode.NotFound;
    case 405:
      return ErrorCode.MethodNotAllowed;
    case 408:
      return ErrorCode.RequestTimeout;
    case 409:
      return ErrorCode.Conflict;
    case 413:
      return ErrorCode.PayloadTooLarge;
    case 415:
      return ErrorCode.UnsupportedMediaType;
    case 431:
      return ErrorCode.HeadersTooLarge;
    case 429:
      return ErrorCode.RateLimited;
    case 503:
      return ErrorCode.ServiceUnavailable;
    default:
      return status >= 500 ? ErrorCode.InternalError : ErrorCode.ValidationFailed;
  }
}
