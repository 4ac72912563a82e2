import { applyDecorators } from '@nestjs/common';
import { ApiProperty } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsString, Matches } from 'class-validator';
import { IsWellFormed, trimNfc } from '../../common/well-formed';

/** `name` of register and rename: trimmed, NFC, 1–64 characters, no control characters. */
export function DeviceName() {
  return applyDecorators(
    ApiProperty({
      example: 'MT5 Main',
      minLength: 1,
      maxLength: 64,
      description:
        'Trimmed and normalised to Unicode NFC; 1–64 characters without control characters or lone surrogates. Unique among your active devices, ignoring case.',
    }),
    Transform(({ value }: { value: unknown }) => trimNfc(value)),
    IsString(),
    IsWellFormed(),
    // Counted in code points, as PostgreSQL's varchar(64) counts: class-validator's
    // Length() does not count U+FE0E/U+FE0F, which let a too-long name reach the database.
    Matches(/^[\s\S]{1,64}$/u, { message: 'name must be 1 to 64 characters long' }),
    Matches(/^\P{Cc}*$/u, { message: 'name must not contain control characters' }),
  );
}
