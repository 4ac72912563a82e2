import { MAX_JSON_DEPTH, nestedDeeperThan } from './body-parsers';

describe('nestedDeeperThan', () => {
  const nest = (n: number) => '['.repeat(n) + ']'.repeat(n);

  it('counts object and array nesting, the body itself being level 1', () => {
    expect(nestedDeeperThan(nest(MAX_JSON_DEPTH), MAX_JSON_DEPTH)).toBe(false);
    expect(nestedDeeperThan(nest(MAX_JSON_DEPTH + 1), MAX_JSON_DEPTH)).toBe(true);
    expect(nestedDeeperThan('{"a":{"b":[{"c":1}]}}', 4)).toBe(false);
    expect(nestedDeeperThan('{"a":{"b":[{"c":1}]}}', 3)).toBe(true);
    expect(nestedDeeperThan('[[],[],[],[]]', 2)).toBe(false);
  });

  it('ignores brackets inside strings, escaped quotes included', () => {
    expect(nestedDeeperThan(JSON.stringify({ a: '[[[[[[' }), 1)).toBe(false);
    expect(nestedDeeperThan(JSON.stringify({ a: 'x"[[[[\\"{{{' }), 1)).toBe(false);
    expect(nestedDeeperThan('{"a\\"[[":"\\\\"}', 1)).toBe(false);
  });
});
