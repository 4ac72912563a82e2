import { ApiProperty } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { isEmail, IsString, Length, MaxLength, ValidateBy } from 'class-validator';
import { isWellFormed, IsWellFormed, trimNfc } from '../../common/well-formed';

const normaliseEmail = ({ value }: { value: unknown }) => {
  const v = trimNfc(value);
  return typeof v === 'string' ? v.toLowerCase().normalize('NFC') : v;
};

/** class-validator's IsEmail, which throws (a 500) on a lone surrogate instead of answering false. */
const IsEmailAddress = () =>
  ValidateBy({
    name: 'isEmail',
    validator: {
      validate: (value) => isWellFormed(value) && isEmail(value),
      defaultMessage: () => 'email must be an e-mail address',
    },
  });

export class CredentialsDto {
  @ApiProperty({
    example: 'ada@example.com',
    maxLength: 254,
    description: 'Trimmed, lower-cased and normalised to Unicode NFC.',
  })
  @Transform(normaliseEmail)
  @IsString()
  @IsWellFormed()
  @MaxLength(254)
  @IsEmailAddress()
  email: string;

  @ApiProperty({
    example: 'correct horse battery staple',
    minLength: 8,
    maxLength: 128,
    format: 'password',
    description: '8–128 characters; commonly used passwords are refused with `weak_password`.',
  })
  @IsString()
  @IsWellFormed()
  @Length(8, 128)
  password: string;
}
