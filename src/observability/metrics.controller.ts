import { Controller, Get, Headers, Inject, Res } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
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

/** Prometheus text at /metrics; behind METRICS_TOKEN when that is set. */
@ApiExcludeController()
@Public()
@Controller('metrics')
export class MetricsController {
  constructor(
    private readonly metrics: MetricsService,
    @Inject(appConfig.KEY) private readonly cfg: AppConfig,
  ) {}

  @Get()
  async scrape(
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
