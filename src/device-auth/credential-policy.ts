import { inNetwork, type Network, toNetwork, toUnifiedAddress } from '../common/cidr';
import { ErrorCode } from '../common/error-codes';

/** The policy fields of a device row, as the database returns them. */
export interface CredentialPolicy {
  disabledAt: Date | null;
  expiresAt: Date | null;
  /** CIDRs; empty: any address. */
  allowedCidrs: readonly string[];
  scopes: readonly string[];
}

export type CredentialPolicyFailure =
  | typeof ErrorCode.DeviceDisabled
  | typeof ErrorCode.CredentialExpired
  | typeof ErrorCode.IpNotAllowed
  | typeof ErrorCode.InsufficientScope;

/** The HTTP status of each failure: the first three are about the credential, the last about the route. */
export const CREDENTIAL_POLICY_STATUS: Record<CredentialPolicyFailure, 401 | 403> = {
  [ErrorCode.DeviceDisabled]: 401,
  [ErrorCode.CredentialExpired]: 401,
  [ErrorCode.IpNotAllowed]: 401,
  [ErrorCode.InsufficientScope]: 403,
};

/**
 * The checks that follow a verified signature, in the contract's order:
 * disabled, expired (an expiry is reached at its instant), client IP outside
 * `allowedCidrs`, a required scope the device lacks. Null when the request
 * may proceed. Pure: the caller passes the time and the client IP (as
 * TRUST_PROXY defines it).
 */
export function checkCredentialPolicy(
  device: CredentialPolicy,
  clientIp: string,
  requiredScopes: readonly string[],
  now: Date,
): CredentialPolicyFailure | null {
  if (device.disabledAt) return ErrorCode.DeviceDisabled;
  if (device.expiresAt && device.expiresAt.getTime() <= now.getTime()) {
    return ErrorCode.CredentialExpired;
  }
  if (device.allowedCidrs.length > 0 && !ipAllowed(device.allowedCidrs, clientIp)) {
    return ErrorCode.IpNotAllowed;
  }
  for (const scope of requiredScopes) {
    if (!device.scopes.includes(scope)) return ErrorCode.InsufficientScope;
  }
  return null;
}

function ipAllowed(cidrs: readonly string[], clientIp: string): boolean {
  const address = toUnifiedAddress(clientIp);
  if (address === null) return false;
  return networksOf(cidrs).some((network) => inNetwork(address, network));
}

/**
 * Parsed CIDR lists, keyed by the list: this runs on every device request,
 * and a device's list changes rarely, so each distinct list is parsed once.
 * Bounded: when full it starts over, which only costs re-parsing.
 */
const parsed = new Map<string, Network[]>();
const MAX_CACHED_LISTS = 10_000;

function networksOf(cidrs: readonly string[]): Network[] {
  const key = cidrs.join(',');
  let networks = parsed.get(key);
  if (!networks) {
    // An entry that does not parse matches nothing (the cidr column makes it
    // impossible; this keeps a bad value from widening the list).
    networks = cidrs.map(toNetwork).filter((n): n is Network => n !== null);
    if (parsed.size >= MAX_CACHED_LISTS) parsed.clear();
    parsed.set(key, networks);
  }
  return networks;
}
