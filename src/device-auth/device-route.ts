import { RouteConfig } from '@nestjs/platform-fastify';

/**
 * Marks a route as one a device calls: the Fastify route's `config` carries
 * the mark, so the app setup gives the route the device body limit when it is
 * registered and the body parser defers body errors until the device is
 * authenticated. It follows the route wherever it is mounted; no URL test.
 * (@RouteConfig keeps one object per handler: a device route sets no other.)
 */
export const DeviceRoute = () => RouteConfig({ deviceRoute: true } satisfies DeviceRouteConfig);

export interface DeviceRouteConfig {
  deviceRoute?: boolean;
}

/** Whether a Fastify route config (`onRoute`'s `route.config`, `request.routeOptions.config`) is a device route's. */
export const isDeviceRoute = (config: unknown): boolean =>
  (config as DeviceRouteConfig | undefined)?.deviceRoute === true;
