/**
 * Group commit for one statement: callers hand in one item each, and up to `inFlight` statements run
 * at once, each taking every item that waited meanwhile (up to `max`). While the database keeps up
 * each item goes alone, at once; when it falls behind, items wait for a statement in flight and then
 * share one, which costs a round trip, a parse of the reply and a commit for all of them instead of
 * for each. If a statement of several fails, each of its items is run again alone, so that one
 * item's error is its own caller's and the others still succeed.
 */
export function batcher<I, O>(run: (items: I[]) => Promise<O[]>, { inFlight, max }: { inFlight: number; max: number }): (item: I) => Promise<O> {
  type Waiting = { item: I; resolve: (value: O) => void; reject: (error: unknown) => void };
  const waiting: Waiting[] = [];
  let running = 0;

  const settle = async (batch: Waiting[]): Promise<void> => {
    try {
      const results = await run(batch.map((w) => w.item));
      batch.forEach((w, i) => w.resolve(results[i]!));
    } catch (error) {
      if (batch.length === 1) return batch[0]!.reject(error);
      await Promise.all(batch.map((w) => settle([w])));
    }
  };
  const next = () => {
    while (running < inFlight && waiting.length > 0) {
      running++;
      void settle(waiting.splice(0, max)).finally(() => {
        running--;
        next();
      });
    }
  };
  return (item) =>
    new Promise<O>((resolve, reject) => {
      waiting.push({ item, resolve, reject });
      next();
    });
}

/** One batcher for each key object (a Redis connection, say), made on its first item. */
export function batcherPerKey<K extends object, I, O>(
  run: (key: K, items: I[]) => Promise<O[]>,
  options: { inFlight: number; max: number },
): (key: K, item: I) => Promise<O> {
  const batchers = new WeakMap<K, (item: I) => Promise<O>>();
  return (key, item) => {
    let add = batchers.get(key);
    if (!add) batchers.set(key, (add = batcher((items: I[]) => run(key, items), options)));
    return add(item);
  };
}
