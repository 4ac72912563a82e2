import { Injectable } from '@nestjs/common';
import { collectDefaultMetrics, Counter, Histogram, Registry } from 'prom-client';

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

  readonly httpDuration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP request duration by method, route and status code',
    labelNames: ['method', 'route', 'status_code'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry });
  }
}
