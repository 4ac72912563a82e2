import {
  BadRequestException,
  HttpStatus,
  InternalServerErrorException,
  Logger,
  NotFoundException,
  ServiceUnavailableException,
} from '@nestjs/common';
import { ApiError, conflict, tooManyRequests } from './api-error';
import { toErrorBody } from './all-exceptions.filter';
import { ErrorCode } from './error-codes';
import { QueryFailedError } from 'typeorm';

/** The bare 500 every unexpected error is answered with: nothing of the error in it. */
const INTERNAL_ERROR = {
  statusCode: 500,
  error: 'Internal Server Error',
  message: 'Internal server error',
  code: 'internal_error',
};

describe('toErrorBody', () => {
  let logger: Logger;
  let logError: jest.Mock;

  beforeEach(() => {
    logError = jest.fn();
    logger = { error: logError, warn: jest.fn() } as unknown as Logger;
  });

  /** Asserts the whole body toErrorBody answers for `thrown`, and its headers when given. */
  function expectAnswer(thrown: unknown, body: object, headers?: Record<string, string>) {
    const answer = toErrorBody(thrown, logger);
    expect(answer.body).toEqual(body);
    if (headers) expect(answer.headers).toEqual(headers);
    return answer;
  }

  /** Asserts the bare 500 for `thrown`, and that the error was logged (once) instead. */
  function expectLoggedInternalError(thrown: unknown) {
    const answer = expectAnswer(thrown, INTERNAL_ERROR);
    expect(logError).toHaveBeenCalledTimes(1);
    return answer;
  }

  it('answers an unavailable database with 503 service_unavailable and Retry-After', () => {
    const timeout = new QueryFailedError(
      'SELECT 1',
      [],
      Object.assign(new Error('canceling statement due to statement timeout'), { code: '57014' }),
    );
    for (const error of [timeout, new Error('timeout exceeded when trying to connect')]) {
      const { body, headers } = toErrorBody(error, logger);
      expect(body).toMatchObject({ statusCode: 503, code: 'service_unavailable' });
      expect(body.message).not.toMatch(/statement|SELECT/);
      expect(headers).toEqual({ 'Retry-After': '5' });
    }
    expect(logError).not.toHaveBeenCalled();
  });

  it('keeps a real bug a 500, even from the database', () => {
    const bug = new QueryFailedError(
      'SELEC 1',
      [],
      Object.assign(new Error('syntax error'), { code: '42601' }),
    );
    expect(toErrorBody(bug, logger).body).toMatchObject({
      statusCode: 500,
      code: 'internal_error',
    });
  });

  it('answers a badly encoded URL with validation_failed', () => {
    const error = Object.assign(new Error('bad'), { statusCode: 400, code: 'FST_ERR_BAD_URL' });
    expect(toErrorBody(error, logger).body).toMatchObject({
      statusCode: 400,
      code: 'validation_failed',
    });
  });

  it('keeps the code, message and headers of an ApiError', () => {
    expectAnswer(
      tooManyRequests(29.2),
      {
        statusCode: 429,
        error: 'Too Many Requests',
        message: 'Too many requests, try again later',
        code: 'rate_limited',
      },
      { 'Retry-After': '30' },
    );
    expect(logError).not.toHaveBeenCalled();
  });

  it('keeps the code of an ApiError whose code differs from the status default', () => {
    expectAnswer(
      conflict(ErrorCode.DeviceNameTaken, 'A device with this name exists'),
      {
        statusCode: 409,
        error: 'Conflict',
        message: 'A device with this name exists',
        code: 'device_name_taken',
      },
      {},
    );
  });

  it('keeps an array message (validation)', () => {
    const error = new ApiError(HttpStatus.BAD_REQUEST, ErrorCode.ValidationFailed, [
      'name must be shorter than or equal to 64 characters',
      'property x should not exist',
    ]);
    expect(toErrorBody(error, logger).body.message).toEqual([
      'name must be shorter than or equal to 64 characters',
      'property x should not exist',
    ]);
  });

  it("gives a plain Nest NotFoundException the code 'not_found'", () => {
    expectAnswer(
      new NotFoundException(),
      { statusCode: 404, error: 'Not Found', message: 'Not Found', code: 'not_found' },
      {},
    );
  });

  it("gives a plain BadRequestException (ValidationPipe) 'validation_failed' and keeps its messages", () => {
    expectAnswer(new BadRequestException(['name should not be empty']), {
      statusCode: 400,
      error: 'Bad Request',
      message: ['name should not be empty'],
      code: 'validation_failed',
    });
  });

  it('turns a Fastify invalid-JSON error into 400 validation_failed without echoing the body', () => {
    const fastifyError = {
      statusCode: 400,
      code: 'FST_ERR_CTP_INVALID_JSON_BODY',
      message: `Unexpected token } in JSON at position 30: {"password":"hunter2-secret",}`,
    };
    const { body } = toErrorBody(fastifyError, logger);

    expect(body).toMatchObject({
      statusCode: 400,
      error: 'Bad Request',
      code: 'validation_failed',
    });
    expect(JSON.stringify(body)).not.toContain('hunter2');
    expect(logError).not.toHaveBeenCalled();
  });

  it('turns a Fastify error that is an Error instance into the same 400', () => {
    const fastifyError = Object.assign(new SyntaxError('Unexpected end of JSON input'), {
      statusCode: 400,
      code: 'FST_ERR_CTP_INVALID_JSON_BODY',
    });
    expect(toErrorBody(fastifyError, logger).body).toMatchObject({
      statusCode: 400,
      code: 'validation_failed',
    });
  });

  it('turns a Fastify body-too-large error into 413 payload_too_large', () => {
    const { body } = toErrorBody(
      { statusCode: 413, code: 'FST_ERR_CTP_BODY_TOO_LARGE', message: 'Request body is too large' },
      logger,
    );

    expect(body).toMatchObject({
      statusCode: 413,
      error: 'Payload Too Large',
      code: 'payload_too_large',
    });
  });

  it('does not echo the message of an unknown Fastify client error', () => {
    const { body } = toErrorBody(
      { statusCode: 400, code: 'FST_ERR_SOMETHING_NEW', message: 'bad input: {"secret":"dvs_x"}' },
      logger,
    );

    expect(body).toMatchObject({ statusCode: 400, code: 'validation_failed' });
    expect(JSON.stringify(body)).not.toContain('dvs_x');
  });

  it('answers an arbitrary Error with a bare 500 and logs it instead', () => {
    const error = new Error('connection to postgres://app:pa55word@db failed');
    const { body, headers } = expectLoggedInternalError(error);

    expect(headers).toEqual({});
    expect(JSON.stringify(body)).not.toContain('pa55word');
    expect(String(logError.mock.calls[0][0])).toContain('pa55word');
  });

  it.each([
    ['a string', 'boom: secret'],
    ['undefined', undefined],
    ['null', null],
    ['an object with a 500 status', { statusCode: 500, message: 'db secret' }],
  ])('answers a thrown %s with a bare 500', (_label, thrown) => {
    expectLoggedInternalError(thrown);
  });

  it('hides the message of a Nest InternalServerErrorException', () => {
    expectLoggedInternalError(new InternalServerErrorException('argon2 hash $argon2id$v=19$...'));
  });

  it('gives a 503 (readiness says not ready) the service_unavailable code and Retry-After', () => {
    const { body, headers } = toErrorBody(new ServiceUnavailableException(), logger);
    expect(body).toMatchObject({ statusCode: 503, code: 'service_unavailable' });
    expect(headers).toEqual({ 'Retry-After': '5' });
  });
});
