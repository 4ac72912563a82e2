import { Histogram, Registry } from 'prom-client';
import { DURATION_BUCKETS, RequestDurationHistogram } from './request-duration.histogram';

/** The same observations through prom-client's own Histogram and through ours. */
function both(observations: [string, string, number, number][]) {
  const reference = new Registry();
  const histogram = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP request duration by method, route and status code',
    labelNames: ['method', 'route', 'status_code'] as const,
    buckets: DURATION_BUCKETS,
    registers: [reference],
  });
  const ours = new Registry();
  const durations = new RequestDurationHistogram();
  ours.registerMetric(durations.asMetric());
  for (const [method, route, status, seconds] of observations) {
    histogram.observe({ method, route, status_code: status }, seconds);
    durations.observe(method, route, status, seconds);
  }
  return { reference, ours, durations };
}

describe('RequestDurationHistogram', () => {
  // Bucket bounds themselves (le is inclusive), values between them, above
  // the last one, zero, and several series sharing a route or a method.
  const observations: [string, string, number, number][] = [
    ['GET', '/health/live', 200, 0.0004],
    ['GET', '/health/live', 200, 0.001],
    ['GET', '/health/live', 200, 0.0011],
    ['GET', '/api/v1/devices/:id', 200, 0.03],
    ['GET', '/api/v1/devices/:id', 404, 0.002],
    ['DELETE', '/api/v1/devices/:id', 204, 0.5],
    ['POST', '/api/v1/device/heartbeat', 401, 7],
    ['GET', 'unmatched', 404, 0],
    ...DURATION_BUCKETS.map((le): [string, string, number, number] => ['GET', '/x', 200, le]),
  ];

  it("exposes the same text as prom-client's Histogram for the same observations", async () => {
    const { reference, ours } = both(observations);
    const text = await ours.metrics();
    expect(text).toBe(await reference.metrics());
    expect(text).toContain(
      'http_request_duration_seconds_bucket{le="0.001",method="GET",route="/health/live",status_code="200"} 2',
    );
    expect(text).toContain(
      'http_request_duration_seconds_count{method="POST",route="/api/v1/device/heartbeat",status_code="401"} 1',
    );
  });

  it("gives prom-client's JSON as well", async () => {
    const { reference, ours } = both(observations);
    // prom-client adds an empty exemplar (null or undefined) to each value.
    const expected = (await reference.getMetricsAsJSON()).map((metric) => ({
      ...metric,
      values: metric.values.map(({ exemplar, ...value }: { exemplar?: unknown; value: number }) => {
        expect(exemplar ?? null).toBeNull();
        return value;
      }),
    }));
    expect(await ours.getMetricsAsJSON()).toEqual(expected);
  });

  it('leaves out a duration that is not a finite number (prom-client would throw)', async () => {
    const { ours, reference, durations } = both(observations);
    durations.observe('GET', '/health/live', 200, Number.NaN);
    durations.observe('GET', '/health/live', 200, Number.POSITIVE_INFINITY);
    expect(await ours.metrics()).toBe(await reference.metrics());
  });

  it('starts again from nothing when the registry resets its metrics', async () => {
    const { ours, durations } = both(observations);
    ours.resetMetrics();
    expect((await durations.get()).values).toEqual([]);
    durations.observe('GET', '/health/live', 200, 0.003);
    const { reference } = both([['GET', '/health/live', 200, 0.003]]);
    expect(await ours.metrics()).toBe(await reference.metrics());
  });
});
