import { ValidateBy, ValidationOptions } from 'class-validator';

/** A lone surrogate (a UTF-16 half of a pair without its other half); pairs are one code point under /u. */
const LONE_SURROGATE = /[\uD800-\uDFFF]/u;

export const isWellFormed = (value: unknown): boolean =>
  typeof value === 'string' && !LONE_SURROGATE.test(value);

/**
 * The string is well-formed UTF-16: no lone surrogate, which no UTF-8 text
 * (and so no PostgreSQL text or jsonb value) can hold.
 */
export function IsWellFormed(options?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: 'isWellFormed',
      validator: {
        validate: (value) => typeof value !== 'string' || isWellFormed(value),
        defaultMessage: (args) => `${args?.property ?? 'value'} must be valid Unicode text`,
      },
    },
    options,
  );
}

/** Trims and normalises to NFC: the same text in another Unicode form is the same text. */
export const trimNfc = (value: unknown): unknown =>
  typeof value === 'string' ? value.trim().normalize('NFC') : value;
