import { ApiProperty } from '@nestjs/swagger';

export class ErrorResponseDto {
  @ApiProperty({ example: 404 })
  statusCode: number;

  @ApiProperty({ example: 'Not Found' })
  error: string;

  @ApiProperty({
    oneOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' } }],
    example: 'Device not found',
  })
  message: string | string[];

  @ApiProperty({
    example: 'device_not_found',
    description: 'Stable snake_case code clients may switch on.',
  })
  code: string;
}
