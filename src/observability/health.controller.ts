import { Controller, Get } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { HealthCheck, HealthCheckService, TypeOrmHealthIndicator } from '@nestjs/terminus';
import { DataSource } from 'typeorm';
import { Public } from '../auth/public.decorator';
import { ApiErrors } from '../common/api-docs';

@ApiTags('health')
@Public()
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly db: TypeOrmHealthIndicator,
    private readonly dataSource: DataSource,
  ) {}

  @Get('live')
  @ApiOperation({ summary: 'Liveness: 200 while the process runs' })
  @ApiOkResponse({ schema: { example: { status: 'ok' } } })
  getLiveness() {
    return { status: 'ok' };
  }

  @Get('ready')
  // Terminus would document its own 503 body; the error filter answers the contract's.
  @HealthCheck({ swaggerDocumentation: false })
  @ApiOkResponse({
    schema: {
      type: 'object',
      example: {
        status: 'ok',
        info: { database: { status: 'up' } },
        error: {},
        details: { database: { status: 'up' } },
      },
    },
  })
  @ApiOperation({ summary: 'Readiness: 200 when the database answers, else 503' })
  @ApiErrors([503, '`service_unavailable`: the database does not answer'])
  getReadiness() {
    return this.health.check([
      () => this.db.pingCheck('database', { connection: this.dataSource, timeout: 3000 }),
    ]);
  }
}
