import { Injectable, Logger, OnModuleDestroy } from '@nestjs/common';
import { DeviceCredentialsRepository } from './device-credentials.repository';

/** How often coalesced lastSeenAt marks are written; owners see them within this plus a query. */
export const LAST_SEEN_FLUSH_MS = 2_000;

/**
 * Coalesces lastSeenAt marks in memory and writes them in one statement
 * every LAST_SEEN_FLUSH_MS, so a busy device costs one UPDATE per interval
 * instead of one per request. Flushed on shutdown as well.
 */
@Injectable()
export class LastSeenRecorder implements OnModuleDestroy {
  private readonly logger = new Logger('LastSeen');
  private pending = new Map<string, Date>();
  private readonly timer = setInterval(() => void this.flush(), LAST_SEEN_FLUSH_MS).unref();

  constructor(private readonly credentials: DeviceCredentialsRepository) {}

  mark(deviceId: string, at = new Date()): void {
    this.pending.set(deviceId, at);
  }

  async flush(): Promise<void> {
    if (this.pending.size === 0) return;
    const batch = this.pending;
    this.pending = new Map();
    try {
      await this.credentials.markSeen([...batch.keys()], [...batch.values()]);
    } catch (error) {
      // Keep the marks for the next attempt unless newer ones arrived.
      for (const [id, at] of batch) if (!this.pending.has(id)) this.pending.set(id, at);
      this.logger.warn(`Writing lastSeenAt failed: ${(error as Error).message}`);
    }
  }

  async onModuleDestroy(): Promise<void> {
    clearInterval(this.timer);
    await this.flush();
  }
}
