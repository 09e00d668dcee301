// Real HTTP load with autocannon (a devDependency): keep-alive, or a new connection per request
// (`Connection: close`). The load runs until stopped, so a test can put it around a reload or a
// shutdown and then read how many requests failed: non-2xx, errors (resets, refused) or timeouts.
import autocannon from 'autocannon';

export interface LoadResult {
  ok: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  total: number;
}

export interface Load {
  /** Responses so far. */
  responses(): number;
  /** Resolves once `count` more responses than now have arrived (with a deadline). */
  moreResponses(count: number, timeout?: number): Promise<void>;
  stop(): Promise<LoadResult>;
}

export function startLoad(port: number, options: { connections?: number; keepAlive: boolean }): Load {
  const instance = autocannon({
    url: `http://127.0.0.1:${port}/`,
    connections: options.connections ?? 16,
    duration: 600,
    timeout: 10,
    headers: options.keepAlive ? {} : { connection: 'close' },
  });
  let responses = 0;
  const waiters = new Set<() => void>();
  instance.on('response', () => {
    responses += 1;
    for (const waiter of waiters) waiter();
  });
  const finished = new Promise<LoadResult>((resolve, reject) => {
    instance.then((result) => resolve({
      ok: result['2xx'], non2xx: result.non2xx, errors: result.errors, timeouts: result.timeouts, total: result.requests.total,
    }), reject);
  });
  return {
    responses: () => responses,
    moreResponses: (count, timeout = 15_000) => new Promise((resolve, reject) => {
      const target = responses + count;
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(new Error(`only ${responses - (target - count)} of ${count} responses within ${timeout} ms`));
      }, timeout);
      const check = (): void => {
        if (responses < target) return;
        clearTimeout(timer);
        waiters.delete(check);
        resolve();
      };
      waiters.add(check);
    }),
    stop: () => {
      instance.stop();
      return finished;
    },
  };
}
