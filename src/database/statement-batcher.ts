/**
 * Groups the calls of a hot path into one statement (or one Redis script
 * call) per batch. Calls made while `maxInFlight` batches are already
 * running wait and go together in the next one; a call that finds a batch
 * slot free is sent at once (after the other calls of the same turn of the
 * event loop). A batch never holds
 * two calls with the same `key`: the later one goes in the batch after, so
 * that it sees the earlier one's effect as a separate request would.
 *
 * Under load this turns N statements, N commits and N network writes into
 * one of each, which is where a signed request's time goes; alone, a call
 * costs what it did before. Each caller still gets its own answer, and only
 * once the statement that holds its work has committed.
 */
export class StatementBatcher<I, O> {
  private queue: {
    item: I;
    key?: string;
    resolve: (o: O) => void;
    reject: (e: unknown) => void;
  }[] = [];
  private inFlight = 0;
  private scheduled = false;

  constructor(
    /** Runs one batch: answers one output per item, in order. */
    private readonly runBatch: (items: I[]) => Promise<O[]>,
    private readonly maxInFlight: number,
    /** Items with the same key never share a batch (none: any may). */
    private readonly keyOf?: (item: I) => string,
    private readonly maxBatch = 500,
  ) {}

  run(item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.queue.push({ item, key: this.keyOf?.(item), resolve, reject });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.scheduled || this.inFlight >= this.maxInFlight || this.queue.length === 0) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.flush();
    });
  }

  private flush(): void {
    while (this.inFlight < this.maxInFlight && this.queue.length > 0) {
      const batch: typeof this.queue = [];
      const later: typeof this.queue = [];
      const keys = new Set<string>();
      for (const entry of this.queue) {
        if (batch.length < this.maxBatch && !(entry.key !== undefined && keys.has(entry.key))) {
          if (entry.key !== undefined) keys.add(entry.key);
          batch.push(entry);
        } else {
          later.push(entry);
        }
      }
      this.queue = later;
      this.inFlight++;
      this.runBatch(batch.map((e) => e.item))
        .then(
          (outputs) => batch.forEach((e, i) => e.resolve(outputs[i])),
          (error) => batch.forEach((e) => e.reject(error)),
        )
        .finally(() => {
          this.inFlight--;
          this.schedule();
        });
    }
  }
}

/**
 * The column in which a batch statement tags each row with the place of its
 * item in the batch (1-based: `unnest(…) WITH ORDINALITY`).
 */
export const BATCH_SLOT = 'batch_slot';

/** One answer per item from rows tagged with BATCH_SLOT; an item without a row gets `none`. */
export function answersBySlot<O>(
  count: number,
  rows: Record<string, unknown>[],
  answer: (row: Record<string, unknown>) => O,
  none: () => O,
): O[] {
  const answers = Array.from({ length: count }, none);
  for (const row of rows) answers[Number(row[BATCH_SLOT]) - 1] = answer(row);
  return answers;
}
