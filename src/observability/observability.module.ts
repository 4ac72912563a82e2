import { Global, Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { HealthController } from './health.controller';
import { LoggingModule } from './logging';
import { MetricsController } from './metrics.controller';
import { MetricsService } from './metrics.service';

/** Logs (pino), Prometheus metrics and the health endpoints. */
@Global()
@Module({
  imports: [LoggingModule, TerminusModule.forRoot({ logger: false })],
  controllers: [HealthController, MetricsController],
  providers: [MetricsService],
  exports: [MetricsService],
})
export class ObservabilityModule {}
