import type { Device } from './device.entity';
import { DeviceDto } from './dto/device-responses.dto';

const iso = (d: Date | null) => (d ? d.toISOString() : null);

/** The one way a device leaves the service: only these fields, never secret material. */
export function toDeviceDto(d: Device): DeviceDto {
  return {
    id: d.id,
    name: d.name,
    status: d.status,
    createdAt: d.createdAt.toISOString(),
    updatedAt: d.updatedAt.toISOString(),
    lastSeenAt: iso(d.lastSeenAt),
    revokedAt: iso(d.revokedAt),
  };
}
