import { toUserDto } from './user.mapper';
import { Body, Controller, Delete, Get, HttpCode, HttpStatus, Post } from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiCreatedResponse,
  ApiNoContentResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
} from '@nestjs/swagger';
import { ApiErrors } from '../common/api-docs';
import { ClientIp } from '../common/client-ip.decorator';
import { AuthService } from './auth.service';
import { AuthUser, CurrentUser } from './current-user.decorator';
import { CredentialsDto } from './dto/credentials.dto';
import { TokenResponseDto, UserResponseDto } from './dto/user-response.dto';
import { Public } from './public.decorator';

@ApiTags('auth')
@Controller('auth')
export class AuthController {
  constructor(private readonly auth: AuthService) {}

  @Public()
  @Post('register')
  @ApiOperation({ summary: 'Create an account' })
  @ApiCreatedResponse({ type: UserResponseDto })
  @ApiErrors(
    [400, '`validation_failed`, or `weak_password` for a commonly used password'],
    [409, '`email_taken`'],
    [
      429,
      '`rate_limited`: more than 20 registrations from one IP in an hour, or the ' +
        'password-hashing queue is full',
    ],
  )
  registerUser(@Body() body: CredentialsDto, @ClientIp() ip: string): Promise<UserResponseDto> {
    return this.auth.register(body, ip);
  }

  @Public()
  @Post('login')
  @HttpCode(HttpStatus.OK)
  @ApiOperation({ summary: 'Exchange e-mail and password for an access token' })
  @ApiOkResponse({ type: TokenResponseDto })
  @ApiErrors(
    400,
    [401, '`invalid_credentials` (unknown e-mail and wrong password alike)'],
    [
      429,
      '`rate_limited`: 10 failed attempts for this IP and e-mail, or 50 from this IP, within ' +
        '15 minutes; or the password-hashing queue is full (`Retry-After: 1`)',
    ],
  )
  login(@Body() body: CredentialsDto, @ClientIp() ip: string): Promise<TokenResponseDto> {
    return this.auth.login(body, ip);
  }

  @Get('me')
  @ApiBearerAuth()
  @ApiOperation({ summary: 'The signed-in user' })
  @ApiOkResponse({ type: UserResponseDto })
  getCurrentUser(@CurrentUser() user: AuthUser): UserResponseDto {
    return toUserDto(user);
  }

  @Delete('me')
  @HttpCode(HttpStatus.NO_CONTENT)
  @ApiBearerAuth()
  @ApiOperation({ summary: 'Delete the account with all its devices, secrets and events' })
  @ApiNoContentResponse()
  async deleteCurrentUser(@CurrentUser() user: AuthUser): Promise<void> {
    await this.auth.deleteAccount(user.id);
  }
}
