import { applyDecorators } from '@nestjs/common';
import { ApiProperty } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsString, Length, Matches } from 'class-validator';

/** `name` of register and rename: trimmed, 1–64 characters, no control characters. */
export function DeviceName() {
  return applyDecorators(
    ApiProperty({
      example: 'MT5 Main',
      minLength: 1,
      maxLength: 64,
      description:
        'Trimmed; 1–64 characters without control characters. Unique among your active devices, ignoring case.',
    }),
    Transform(({ value }: { value: unknown }) =>
      typeof value === 'string' ? value.trim() : value,
    ),
    IsString(),
    Length(1, 64),
    Matches(/^\P{Cc}*$/u, { message: 'name must not contain control characters' }),
  );
}
