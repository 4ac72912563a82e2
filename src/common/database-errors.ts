/**
 * Whether an error means "the database did not answer in time or could not be
 * reached" (the request may succeed later: 503 service_unavailable), as
 * opposed to a bug or a constraint violation, which stays a 500 or whatever
 * its handler makes of it. Knows pg's and pg-pool's errors as TypeORM passes
 * them on (a QueryFailedError keeps the driver's error as `driverError`).
 */

import { CannotExecuteNotConnectedError } from 'typeorm';

/** SQLSTATEs of an unavailable database. */
const UNAVAILABLE_SQLSTATES = new Set([
  '57014', // query_canceled: statement_timeout (or a cancel request)
  '57P01', // admin_shutdown: backend terminated by an administrator
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now: starting up, shutting down, in recovery
  '57P05', // idle_session_timeout
  '53300', // too_many_connections
  '55P03', // lock_not_available: lock_timeout
  '25P03', // idle_in_transaction_session_timeout
]);

/** Socket errors on the way to the database. */
const UNAVAILABLE_ERRNOS = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
]);

/** pg and pg-pool raise these as plain Errors, told apart by their message only. */
const UNAVAILABLE_MESSAGES = [
  'timeout exceeded when trying to connect',
  'Connection terminated unexpectedly',
  'Connection terminated due to connection timeout',
  'Connection terminated',
  'Query read timeout',
  // A connection is closed after a query_timeout (ClosingOnTimeoutClient):
  // what its query runner sends next, a rollback say, is refused so.
  'Client was closed and is not queryable',
  'Client has encountered a connection error and is not queryable',
  // The pool or TypeORM's driver is closed: the service is shutting down, and
  // another instance can answer.
  'Cannot use a pool after calling end on the pool',
  'Driver not Connected',
];

interface MaybeDbError {
  code?: unknown;
  message?: unknown;
  driverError?: unknown;
  cause?: unknown;
}

export function isDatabaseUnavailable(error: unknown, depth = 0): boolean {
  if (!error || typeof error !== 'object' || depth > 4) return false;
  const e = error as MaybeDbError;
  if (typeof e.code === 'string') {
    // SQLSTATE class 08: connection exception.
    if (UNAVAILABLE_SQLSTATES.has(e.code) || /^08[0-9A-Z]{3}$/.test(e.code)) return true;
    if (UNAVAILABLE_ERRNOS.has(e.code)) return true;
  }
  if (typeof e.message === 'string' && UNAVAILABLE_MESSAGES.includes(e.message)) return true;
  // TypeORM's data source is closed (shutting down) or not connected yet.
  if (error instanceof CannotExecuteNotConnectedError) return true;
  return (
    isDatabaseUnavailable(e.driverError, depth + 1) || isDatabaseUnavailable(e.cause, depth + 1)
  );
}

/** Seconds a client should wait before trying again after a 503. */
export const UNAVAILABLE_RETRY_AFTER_SECONDS = 5;
