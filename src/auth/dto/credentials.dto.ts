import { ApiProperty } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsEmail, IsString, Length, MaxLength } from 'class-validator';

const normaliseEmail = ({ value }: { value: unknown }) =>
  typeof value === 'string' ? value.trim().toLowerCase() : value;

export class CredentialsDto {
  @ApiProperty({
    example: 'ada@example.com',
    maxLength: 254,
    description: 'Trimmed and lower-cased.',
  })
  @Transform(normaliseEmail)
  @IsString()
  @MaxLength(254)
  @IsEmail({}, { message: 'email must be an e-mail address' })
  email: string;

  @ApiProperty({
    example: 'correct horse battery staple',
    minLength: 8,
    maxLength: 128,
    format: 'password',
    description: '8–128 characters; commonly used passwords are refused with `weak_password`.',
  })
  @IsString()
  @Length(8, 128)
  password: string;
}
