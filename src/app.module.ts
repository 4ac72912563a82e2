import { Module } from '@nestjs/common';
import { ConfigModule } from '@nestjs/config';
import { AuthModule } from './auth/auth.module';
import { CommonModule } from './common/common.module';
import { allConfig } from './config/configuration';
import { DatabaseModule } from './database/database.module';
import { DeviceAuthModule } from './device-auth/device-auth.module';
import { DevicesModule } from './devices/devices.module';
import { ObservabilityModule } from './observability/observability.module';

@Module({
  imports: [
    ConfigModule.forRoot({ isGlobal: true, load: allConfig, cache: true }),
    ObservabilityModule,
    CommonModule,
    DatabaseModule,
    AuthModule,
    DevicesModule,
    DeviceAuthModule,
  ],
})
export class AppModule {}
