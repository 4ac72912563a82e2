/** The error `run` throws; fails the test when it throws nothing or something of another type. */
export function thrown<E>(type: abstract new (...args: never[]) => E, run: () => unknown): E {
  let caught: unknown;
  try {
    run();
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(type);
  return caught as E;
}

/** The error `promise` rejects with; fails the test when it resolves or rejects with another type. */
export async function rejected<E>(
  type: abstract new (...args: never[]) => E,
  promise: Promise<unknown>,
): Promise<E> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(type);
  return error as E;
}
