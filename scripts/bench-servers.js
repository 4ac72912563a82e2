// The bare servers `npm run bench` compares the service with, each the least
// code that does the same work, run as a child process like the service:
//   node scripts/bench-servers.js nest-static    NestJS on Fastify answering static JSON
//   node scripts/bench-servers.js jwt-user       Fastify + pg: verify an HS256 JWT, read the user by primary key
//   node scripts/bench-servers.js naive-signed   Fastify + pg: a signed device request the naive way, in two
//                                                round trips (look the device up, verify, INSERT the nonce)
// Environment: PORT, and for the pg servers DATABASE_URL, JWT_SECRET, DEVICE_SECRET_KEK (the service's).
'use strict';

const { createHmac, timingSafeEqual } = require('node:crypto');
const { join } = require('node:path');

const HOST = '127.0.0.1';
const port = Number(process.env.PORT);
const POOL_SIZE = 10;

async function nestStatic() {
  require('reflect-metadata');
  const { Controller, Get, Module } = require('@nestjs/common');
  const { NestFactory } = require('@nestjs/core');
  const { FastifyAdapter } = require('@nestjs/platform-fastify');
  class StaticController {
    live() {
      return { status: 'ok' };
    }
  }
  Reflect.decorate([Controller('health')], StaticController);
  Reflect.decorate(
    [Get('live')],
    StaticController.prototype,
    'live',
    Object.getOwnPropertyDescriptor(StaticController.prototype, 'live'),
  );
  class StaticModule {}
  Reflect.decorate([Module({ controllers: [StaticController] })], StaticModule);
  const app = await NestFactory.create(StaticModule, new FastifyAdapter(), { logger: false });
  await app.listen(port, HOST);
}

function pgPool() {
  const { Pool } = require('pg');
  return new Pool({ connectionString: process.env.DATABASE_URL, max: POOL_SIZE });
}

const unauthorized = (reply) => reply.code(401).send({ statusCode: 401, code: 'unauthorized' });

function bareFastify() {
  const fastify = require('fastify')();
  fastify.get('/health/live', async () => ({ status: 'ok' }));
  return fastify;
}

async function jwtUser() {
  const fastify = bareFastify();
  const pool = pgPool();
  const key = Buffer.from(process.env.JWT_SECRET);
  fastify.get('/api/v1/auth/me', async (request, reply) => {
    const token = /^Bearer (.+)$/.exec(request.headers.authorization ?? '')?.[1] ?? '';
    const [header, payload, sig] = token.split('.');
    if (!sig) return unauthorized(reply);
    const expected = createHmac('sha256', key).update(`${header}.${payload}`).digest();
    const given = Buffer.from(sig, 'base64url');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      return unauthorized(reply);
    }
    if (JSON.parse(Buffer.from(header, 'base64url')).alg !== 'HS256') return unauthorized(reply);
    const claims = JSON.parse(Buffer.from(payload, 'base64url'));
    if (!(claims.exp > Date.now() / 1000)) return unauthorized(reply);
    const { rows } = await pool.query({
      name: 'user-by-id',
      text: 'SELECT id, email, created_at AS "createdAt" FROM users WHERE id = $1',
      values: [claims.sub],
    });
    return rows[0] ?? unauthorized(reply);
  });
  await fastify.listen({ port, host: HOST });
}

async function naiveSigned() {
  const dist = join(__dirname, '../dist/src');
  const { SecretSealer } = require(join(dist, 'devices/secret-sealer.js'));
  const { signature } = require(join(dist, 'device-auth/signing.js'));
  const fastify = bareFastify();
  const pool = pgPool();
  const sealer = new SecretSealer(Buffer.from(process.env.DEVICE_SECRET_KEK, 'base64'));
  fastify.get('/api/v1/device/me', async (request, reply) => {
    const h = request.headers;
    const deviceId = h['x-device-id'];
    const timestamp = h['x-timestamp'];
    const nonce = h['x-nonce'];
    if (!deviceId || !nonce || Math.abs(Date.now() / 1000 - Number(timestamp)) > 300) {
      return unauthorized(reply);
    }
    // Round trip 1: the device and its live secrets.
    const { rows } = await pool.query({
      name: 'device-with-secrets',
      text: `SELECT d.id, d.name, d.user_id AS "ownerId", s.sealed, s.kek_id AS "kekId"
             FROM devices d JOIN device_secrets s ON s.device_id = d.id
             WHERE d.id = $1 AND d.revoked_at IS NULL AND (s.expires_at IS NULL OR s.expires_at > now())`,
      values: [deviceId],
    });
    const given = Buffer.from(String(h['x-signature'] ?? ''), 'base64');
    const canonical = { method: 'GET', path: request.url, timestamp, nonce, deviceId, body: '' };
    const match = rows.find((row) => {
      const expected = Buffer.from(signature(sealer.unseal(row, deviceId), canonical), 'base64');
      return expected.length === given.length && timingSafeEqual(expected, given);
    });
    if (!match) return unauthorized(reply);
    // Round trip 2: the nonce, once.
    const fresh = await pool.query({
      name: 'remember-nonce',
      text: `INSERT INTO device_nonces (device_id, nonce, expires_at)
             VALUES ($1, $2, now() + interval '600 seconds') ON CONFLICT DO NOTHING RETURNING 1`,
      values: [deviceId, nonce],
    });
    if (fresh.rowCount !== 1) return unauthorized(reply);
    return { id: match.id, name: match.name, ownerId: match.ownerId };
  });
  await fastify.listen({ port, host: HOST });
}

const servers = { 'nest-static': nestStatic, 'jwt-user': jwtUser, 'naive-signed': naiveSigned };
const serve = servers[process.argv[2]];
if (!serve) {
  process.stderr.write(`usage: bench-servers.js ${Object.keys(servers).join('|')}\n`);
  process.exit(2);
}
process.once('SIGTERM', () => process.exit(0));
serve().catch((error) => {
  process.stderr.write(`bench-servers: ${error.stack}\n`);
  process.exit(1);
});
