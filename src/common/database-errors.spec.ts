import { CannotExecuteNotConnectedError, QueryFailedError, TypeORMError } from 'typeorm';
import { isDatabaseUnavailable } from './database-errors';

const pgError = (code: string, message = 'error') => Object.assign(new Error(message), { code });

describe('isDatabaseUnavailable', () => {
  it.each([
    ['a statement timeout', new QueryFailedError('SELECT 1', [], pgError('57014'))],
    ['a terminated backend', new QueryFailedError('SELECT 1', [], pgError('57P01'))],
    ['a connection exception', pgError('08006')],
    ['a refused connection', pgError('ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:5432')],
    ['a pool acquisition timeout', new Error('timeout exceeded when trying to connect')],
    ['a dropped connection', new Error('Connection terminated unexpectedly')],
    [
      'no answer within query_timeout',
      new QueryFailedError('SELECT 1', [], new Error('Query read timeout')),
    ],
    [
      'a query on a connection closed after a query_timeout',
      new QueryFailedError('ROLLBACK', [], new Error('Client was closed and is not queryable')),
    ],
    ['a closed pool (shutting down)', new Error('Cannot use a pool after calling end on the pool')],
    ['a closed data source (shutting down)', new CannotExecuteNotConnectedError()],
    ['a closed driver (shutting down)', new TypeORMError('Driver not Connected')],
    [
      'a connect timeout with its cause',
      new Error('wrapped', { cause: new Error('Connection terminated due to connection timeout') }),
    ],
  ])('is true for %s', (_, error) => {
    expect(isDatabaseUnavailable(error)).toBe(true);
  });

  it.each([
    ['a unique violation', new QueryFailedError('INSERT', [], pgError('23505'))],
    ['a foreign key violation', new QueryFailedError('INSERT', [], pgError('23503'))],
    ['a syntax error (a bug)', new QueryFailedError('SELEC', [], pgError('42601'))],
    ['a TypeError (a bug)', new TypeError("Cannot read properties of undefined (reading 'id')")],
    ['nothing', undefined],
    ['a string', 'Connection terminated'],
  ])('is false for %s', (_, error) => {
    expect(isDatabaseUnavailable(error)).toBe(false);
  });
});
