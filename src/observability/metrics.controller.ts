import { Controller, Get, Headers, Inject, Res } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiSecurity, ApiTags } from '@nestjs/swagger';
import { ApiErrorsWithoutDatabase } from '../common/api-docs';
import type { FastifyReply } from 'fastify';
import { timingSafeEqual } from 'node:crypto';
import { Public } from '../auth/public.decorator';
import { unauthorized } from '../common/api-error';
import { ErrorCode } from '../common/error-codes';
import { appConfig, AppConfig } from '../config/configuration';
import { MetricsService } from './metrics.service';

function sameToken(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

export const METRICS_TOKEN_SCHEME = 'metricsToken';

/** Prometheus text at /metrics; behind METRICS_TOKEN when that is set. */
@ApiTags('operations')
@Public()
@Controller('metrics')
export class MetricsController {
  constructor(
    private readonly metrics: MetricsService,
    @Inject(appConfig.KEY) private readonly cfg: AppConfig,
  ) {}

  @Get()
  @ApiOperation({ summary: 'Prometheus metrics' })
  @ApiSecurity(METRICS_TOKEN_SCHEME)
  @ApiOkResponse({
    description: 'Prometheus text exposition format',
    content: {
      'text/plain': { schema: { type: 'string' }, example: 'devices_registered_total 3\n' },
    },
  })
  @ApiErrorsWithoutDatabase([
    401,
    '`unauthorized`: METRICS_TOKEN is set and the request does not carry it',
  ])
  async getMetrics(
    @Headers('authorization') authorization: string | undefined,
    @Res() reply: FastifyReply,
  ) {
    if (
      this.cfg.metricsToken &&
      !sameToken(authorization ?? '', `Bearer ${this.cfg.metricsToken}`)
    ) {
      throw unauthorized(ErrorCode.Unauthorized, 'A valid metrics token is required');
    }
    void reply
      .header('Content-Type', this.metrics.registry.contentType)
      .send(await this.metrics.registry.metrics());
  }
}
