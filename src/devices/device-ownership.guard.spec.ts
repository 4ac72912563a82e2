import type { ExecutionContext } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { ApiError } from '../common/api-error';
import type { Device } from './device.entity';
import { DeviceOwnershipGuard } from './device-ownership.guard';
import type { DevicesRepository } from './devices.repository';
import { deviceRow } from '../../test/support/device-auth-harness';
import { rejected } from '../../test/support/thrown';

interface FakeRequest {
  params: { id?: string };
  user: { id: string; email: string; createdAt: Date };
  ownedDevice?: Device;
}

function contextFor(req: FakeRequest): ExecutionContext {
  return {
    switchToHttp: () => ({ getRequest: () => req }),
  } as unknown as ExecutionContext;
}

function device(userId: string): Device {
  return deviceRow({ userId });
}

const rejection = (promise: Promise<unknown>): Promise<ApiError> => rejected(ApiError, promise);

describe('DeviceOwnershipGuard', () => {
  const me = { id: randomUUID(), email: 'me@example.com', createdAt: new Date() };
  const mine = device(me.id);
  const theirs = device(randomUUID());
  const findById = jest.fn((id: string) =>
    Promise.resolve([mine, theirs].find((d) => d.id === id) ?? null),
  );
  const guard = new DeviceOwnershipGuard({ findById } as unknown as DevicesRepository);

  beforeEach(() => findById.mockClear());

  it.each([['not-a-uuid'], [''], [undefined], [`${randomUUID()}x`], ["' OR 1=1 --"]])(
    'answers 400 validation_failed for id %p without touching the repository',
    async (id) => {
      const req: FakeRequest = { params: { id }, user: me };
      const error = await rejection(guard.canActivate(contextFor(req)));

      expect(error.getStatus()).toBe(400);
      expect(error.code).toBe('validation_failed');
      expect(findById).not.toHaveBeenCalled();
      expect(req.ownedDevice).toBeUndefined();
    },
  );

  it('answers 404 device_not_found for a device that does not exist', async () => {
    const id = randomUUID();
    const req: FakeRequest = { params: { id }, user: me };
    const error = await rejection(guard.canActivate(contextFor(req)));

    expect(error.getStatus()).toBe(404);
    expect(error.code).toBe('device_not_found');
    expect(findById).toHaveBeenCalledWith(id);
    expect(req.ownedDevice).toBeUndefined();
  });

  it("answers 403 forbidden for another user's device and says nothing about it", async () => {
    const req: FakeRequest = { params: { id: theirs.id }, user: me };
    const error = await rejection(guard.canActivate(contextFor(req)));

    expect(error.getStatus()).toBe(403);
    expect(error.code).toBe('forbidden');
    expect(JSON.stringify(error.getResponse())).not.toContain(theirs.name);
    expect(JSON.stringify(error.getResponse())).not.toContain(theirs.userId);
    expect(req.ownedDevice).toBeUndefined();
  });

  it('lets the owner through and puts the device on the request', async () => {
    const req: FakeRequest = { params: { id: mine.id }, user: me };

    await expect(guard.canActivate(contextFor(req))).resolves.toBe(true);
    expect(req.ownedDevice).toBe(mine);
    expect(findById).toHaveBeenCalledWith(mine.id);
  });

  it('accepts an upper-case UUID', async () => {
    const req: FakeRequest = { params: { id: mine.id.toUpperCase() }, user: me };
    findById.mockResolvedValueOnce(mine);

    await expect(guard.canActivate(contextFor(req))).resolves.toBe(true);
    expect(req.ownedDevice).toBe(mine);
  });
});
