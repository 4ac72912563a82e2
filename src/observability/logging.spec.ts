import { Writable } from 'node:stream';
import {
  chooseLogFormat,
  createLogger,
  LogFormat,
  PinoNestLogger,
  requestChildLogger,
  requestIdOf,
} from './logging';

/** A destination that keeps what was written, line by line. */
function capture() {
  const lines: string[] = [];
  return Object.assign(
    new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(...chunk.toString().split('\n').filter(Boolean));
        done();
      },
    }),
    { lines },
  );
}

describe('chooseLogFormat', () => {
  it.each<[LogFormat | undefined, boolean, boolean, LogFormat]>([
    // LOG_FORMAT, production, stdout is a terminal → format
    [undefined, false, true, 'pretty'],
    [undefined, false, false, 'json'],
    [undefined, true, true, 'json'],
    [undefined, true, false, 'json'],
    ['pretty', true, false, 'pretty'],
    ['pretty', false, false, 'pretty'],
    ['json', false, true, 'json'],
    ['json', true, true, 'json'],
  ])('LOG_FORMAT=%s, production %s, terminal %s: %s', (configured, production, tty, format) => {
    expect(chooseLogFormat(configured, production, tty)).toBe(format);
  });
});

describe('createLogger', () => {
  const cfg = { logLevel: 'info' as const, production: false };

  it('writes JSON lines', () => {
    const out = capture();
    createLogger({ ...cfg, logFormat: 'json' }, out).info({ deviceCount: 3 }, 'started');
    expect(out.lines).toHaveLength(1);
    expect(JSON.parse(out.lines[0])).toMatchObject({ level: 30, msg: 'started', deviceCount: 3 });
  });

  it('writes one readable line per entry when pretty', async () => {
    const out = capture();
    createLogger({ ...cfg, logFormat: 'pretty' }, out).info({ deviceCount: 3 }, 'started');
    await new Promise(setImmediate);
    expect(out.lines).toHaveLength(1);
    expect(() => JSON.parse(out.lines[0])).toThrow();
    // eslint-disable-next-line no-control-regex
    const plain = out.lines[0].replace(/\u001b\[[0-9;]*m/g, '');
    expect(plain).toMatch(/^\[\d{2}:\d{2}:\d{2}\.\d{3}\] INFO: started \{"deviceCount":3\}$/);
  });

  it('drops passwords, secrets and request headers', () => {
    const out = capture();
    createLogger({ ...cfg, logFormat: 'json' }, out).info(
      { password: 'p', secret: 's', body: { password: 'p' }, req: { headers: { a: 1 } } },
      'x',
    );
    expect(JSON.parse(out.lines[0])).toEqual(expect.objectContaining({ body: {}, req: {} }));
    expect(out.lines[0]).not.toMatch(/password|secret|headers/);
  });
});

describe('requestChildLogger', () => {
  it('binds the request id to each line, making the pino child only on the first line written', () => {
    const out = capture();
    const root = createLogger({ logLevel: 'warn', production: true, logFormat: 'json' }, out);
    const child = jest.spyOn(root, 'child');
    const log = requestChildLogger(root, { reqId: 'req-1' }, {});

    log.info('not at this level');
    log.debug({ detail: 1 }, 'nor this');
    expect(child).not.toHaveBeenCalled();
    expect(log.level).toBe('warn');

    log.warn({ code: 'x' }, 'first');
    log.error('second');
    expect(child).toHaveBeenCalledTimes(1);
    expect(out.lines.map((l) => JSON.parse(l) as Record<string, unknown>)).toEqual([
      expect.objectContaining({ reqId: 'req-1', code: 'x', msg: 'first', level: 40 }),
      expect.objectContaining({ reqId: 'req-1', msg: 'second', level: 50 }),
    ]);
  });

  it("makes a child at once for a route's own level", () => {
    const root = createLogger({ logLevel: 'warn', production: true, logFormat: 'json' }, capture());
    const log = requestChildLogger(root, { reqId: 'req-2' }, { level: 'debug' });
    expect(log.level).toBe('debug');
  });
});

describe('requestIdOf', () => {
  const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
  const of = (value?: string | string[]) => requestIdOf({ headers: { 'x-request-id': value } });

  it.each(['a', 'A'.repeat(128), 'trace:span-1.2_3', '01HZX3JQ9G7W3V0Z2K8M4N6P5R'])(
    'keeps %s',
    (id) => expect(of(id)).toBe(id),
  );

  it.each([undefined, '', 'A'.repeat(129), 'a b', 'a/b', 'ä', 'a\nb', ['a', 'b']])(
    'replaces %p with a new UUID',
    (value) => expect(of(value)).toMatch(UUID),
  );
});

describe('PinoNestLogger', () => {
  function logger() {
    const out = capture();
    const nest = new PinoNestLogger(
      createLogger({ logLevel: 'trace', logFormat: 'json', production: false }, out),
    );
    return { nest, entries: () => out.lines.map((l) => JSON.parse(l)) };
  }

  it('maps Nest levels to pino levels and the last argument to the context', () => {
    const { nest, entries } = logger();
    nest.log('one', 'Ctx');
    nest.warn('two', 'Ctx');
    nest.debug('three', 'Ctx');
    nest.verbose('four', 'Ctx');
    nest.fatal('five', 'Ctx');
    expect(entries().map((e) => [e.level, e.msg, e.context])).toEqual([
      [30, 'one', 'Ctx'],
      [40, 'two', 'Ctx'],
      [20, 'three', 'Ctx'],
      [10, 'four', 'Ctx'],
      [60, 'five', 'Ctx'],
    ]);
  });

  it('keeps the stack Nest passes before the context of an error', () => {
    const { nest, entries } = logger();
    const error = new Error('boom');
    nest.error('it failed', error.stack, 'Exceptions');
    expect(entries()[0]).toMatchObject({ level: 50, msg: 'it failed', context: 'Exceptions' });
    expect(entries()[0].stack).toContain('Error: boom');
  });

  it('logs an Error as err', () => {
    const { nest, entries } = logger();
    nest.error(new Error('boom'), 'Exceptions');
    expect(entries()[0]).toMatchObject({ msg: 'boom', err: { message: 'boom', type: 'Error' } });
  });
});
