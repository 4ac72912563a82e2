import { normaliseCidr } from '../common/cidr';
import type { Device } from './device.entity';
import { deviceStatus } from './device-status';
import type { DeviceEvent } from './device-event.entity';
import { DeviceDto, DeviceEventDto } from './dto/device-responses.dto';
import { DeviceSelfDto } from '../device-auth/dto/device-self.dto';

const iso = (d: Date | null) => (d ? d.toISOString() : null);

/** A device's credential policy as responses and events show it. */
export function policyOf(d: Pick<Device, 'expiresAt' | 'scopes' | 'allowedCidrs'>) {
  return {
    expiresAt: iso(d.expiresAt),
    scopes: d.scopes,
    // PostgreSQL prints a cidr in its own style (::1.2.3.4 for some IPv6
    // networks); the API shows every network the one way normaliseCidr writes it.
    allowedCidrs: d.allowedCidrs.map((c) => normaliseCidr(c) ?? c),
  };
}

/** The one way a device leaves the service: only these fields, never secret material. */
export function toDeviceDto(d: Device): DeviceDto {
  return {
    id: d.id,
    name: d.name,
    status: deviceStatus(d),
    createdAt: d.createdAt.toISOString(),
    updatedAt: d.updatedAt.toISOString(),
    lastSeenAt: iso(d.lastSeenAt),
    revokedAt: iso(d.revokedAt),
    disabledAt: iso(d.disabledAt),
    ...policyOf(d),
  };
}

/** A device as it sees itself (GET /device/me, forward auth): the device and its owner. */
export function toDeviceSelfDto(d: Device): DeviceSelfDto {
  // One more property on the object toDeviceDto made, not a spread copy of it:
  // this answers every signed GET /device/me and forward-auth check.
  return Object.assign(toDeviceDto(d), { ownerId: d.userId });
}

export function toDeviceEventDto(e: DeviceEvent): DeviceEventDto {
  return { id: e.id, type: e.type, at: e.at.toISOString(), details: e.details };
}
