import { applyDecorators } from '@nestjs/common';
import { ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayUnique,
  IsArray,
  isISO8601,
  IsOptional,
  Matches,
  ValidateBy,
  ValidateIf,
  type ValidationArguments,
} from 'class-validator';
import { normaliseCidr } from '../../common/cidr';
import { MAX_POLICY_ENTRIES } from '../device.entity';

export const MAX_EXPIRY_YEARS = 5;
export const SCOPE_PATTERN = /^[a-z][a-z0-9_.:-]{0,63}$/;

// A full date-time with its zone: without one, "the time" would be the
// server's local time. isISO8601 then refuses impossible dates (Feb 30, 24:00).
const DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;

/** The latest expiry allowed at `now`. */
export function latestExpiry(now: Date): Date {
  const limit = new Date(now);
  limit.setUTCFullYear(limit.getUTCFullYear() + MAX_EXPIRY_YEARS);
  return limit;
}

function expiryProblem(value: unknown): string | null {
  if (
    typeof value !== 'string' ||
    !DATE_TIME.test(value) ||
    !isISO8601(value, { strict: true, strictSeparator: true }) ||
    Number.isNaN(Date.parse(value))
  ) {
    return 'expiresAt must be null or an ISO 8601 date-time with a time zone, like 2027-01-31T00:00:00Z';
  }
  const now = new Date();
  const time = Date.parse(value);
  if (time <= now.getTime()) return 'expiresAt must be in the future';
  if (time > latestExpiry(now).getTime()) {
    return `expiresAt must be at most ${MAX_EXPIRY_YEARS} years ahead`;
  }
  return null;
}

/** `expiresAt`: null (never) or a future time at most 5 years ahead. */
export function ExpiresAt() {
  return applyDecorators(
    ApiPropertyOptional({
      type: String,
      format: 'date-time',
      nullable: true,
      example: '2027-06-30T00:00:00.000Z',
      description: `When the device's signatures stop working: a future time, at most ${MAX_EXPIRY_YEARS} years ahead, with a time zone. null: never (on PATCH, null removes the expiry).`,
    }),
    IsOptional(),
    ValidateBy({
      name: 'isExpiry',
      validator: {
        validate: (value: unknown) => expiryProblem(value) === null,
        defaultMessage: (args?: ValidationArguments) => expiryProblem(args?.value) ?? '',
      },
    }),
  );
}

/** Sorts an array of strings; anything else is left for the validators to refuse. */
const sortedStrings = ({ value }: { value: unknown }) =>
  Array.isArray(value) && value.every((v) => typeof v === 'string') ? [...value].sort() : value;

/** `scopes`: up to 32 distinct names like `orders:write`; sorted. Absent: keep (PATCH) or none (register). */
export function Scopes() {
  return applyDecorators(
    ApiPropertyOptional({
      type: 'array',
      items: { type: 'string', pattern: SCOPE_PATTERN.source, maxLength: 64 },
      maxItems: MAX_POLICY_ENTRIES,
      uniqueItems: true,
      example: ['orders:write', 'signals.read'],
      description: `Up to ${MAX_POLICY_ENTRIES} distinct scopes, each matching \`${SCOPE_PATTERN.source}\`; stored and shown sorted. Routes declare the scopes they need; none are needed by the registry's own device routes.`,
    }),
    ValidateIf((o: { scopes?: unknown }) => o.scopes !== undefined),
    Transform(sortedStrings),
    IsArray({ message: 'scopes must be an array of strings' }),
    ArrayMaxSize(MAX_POLICY_ENTRIES, {
      message: `scopes must hold at most ${MAX_POLICY_ENTRIES} entries`,
    }),
    Matches(SCOPE_PATTERN, {
      each: true,
      message: `each scope must match ${SCOPE_PATTERN.source}`,
    }),
    ArrayUnique(undefined, { message: 'scopes must not repeat an entry' }),
  );
}

/** Entries that are not an address or network, as the owner wrote them. */
const badCidrs = (value: unknown): unknown[] =>
  Array.isArray(value) ? value.filter((v) => typeof v !== 'string' || !normaliseCidr(v)) : [];

/**
 * `allowedCidrs`: up to 32 IPv4 or IPv6 networks, normalised (see
 * normaliseCidr); an entry that does not parse is kept as written, so the
 * validator can name it.
 */
export function AllowedCidrs() {
  return applyDecorators(
    ApiPropertyOptional({
      type: 'array',
      items: { type: 'string' },
      maxItems: MAX_POLICY_ENTRIES,
      uniqueItems: true,
      example: ['203.0.113.0/24', '2001:db8::/48', '198.51.100.7/32'],
      description:
        `Up to ${MAX_POLICY_ENTRIES} IPv4 or IPv6 networks the device may sign requests from; [] means any address. ` +
        'A bare address means /32 or /128. Shown normalised: host bits cleared, IPv6 in RFC 5952 form, ' +
        'an IPv4-mapped IPv6 network (::ffff:1.2.3.0/120) as its IPv4 network (1.2.3.0/24). ' +
        'Entries that are the same network after normalising are refused.',
    }),
    ValidateIf((o: { allowedCidrs?: unknown }) => o.allowedCidrs !== undefined),
    Transform(({ value }: { value: unknown }) =>
      Array.isArray(value)
        ? value.map((v) => (typeof v === 'string' ? (normaliseCidr(v) ?? v) : v))
        : value,
    ),
    IsArray({ message: 'allowedCidrs must be an array of strings' }),
    ArrayMaxSize(MAX_POLICY_ENTRIES, {
      message: `allowedCidrs must hold at most ${MAX_POLICY_ENTRIES} entries`,
    }),
    ValidateBy({
      name: 'isCidrList',
      validator: {
        validate: (value: unknown) => badCidrs(value).length === 0,
        defaultMessage: (args?: ValidationArguments) =>
          `allowedCidrs must hold IPv4 or IPv6 addresses or CIDRs; not: ${badCidrs(args?.value)
            .map((v) => JSON.stringify(v))
            .join(', ')
            .slice(0, 200)}`,
      },
    }),
    ArrayUnique(undefined, {
      message: 'allowedCidrs must not name the same network twice',
    }),
  );
}
