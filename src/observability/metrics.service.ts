import { Injectable } from '@nestjs/common';
import { collectDefaultMetrics, Counter, Registry } from 'prom-client';
import { RequestDurationHistogram } from './request-duration.histogram';

/** Prometheus metrics of this instance (its own registry, so several instances can share a process). */
@Injectable()
export class MetricsService {
  readonly registry = new Registry();

  readonly devicesRegistered = new Counter({
    name: 'devices_registered_total',
    help: 'Devices registered',
    registers: [this.registry],
  });

  readonly devicesRevoked = new Counter({
    name: 'devices_revoked_total',
    help: 'Devices revoked',
    registers: [this.registry],
  });

  readonly deviceAuth = new Counter({
    name: 'device_auth_total',
    help: 'Device authentication attempts by result (ok or the error code)',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });

  readonly httpDuration = new RequestDurationHistogram();

  constructor() {
    this.registry.registerMetric(this.httpDuration.asMetric());
    collectDefaultMetrics({ register: this.registry });
  }
}
