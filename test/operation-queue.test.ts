// The cluster's operation queue (src/managed/operation-queue.ts), in one process: operations run
// one at a time in order, a reload asked for while another waits joins it, a stop cancels what
// it overtook and refuses what comes after; and, over random schedules (fast-check), every
// operation's promise settles and no two ever run at once.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { OperationCancelledError } from 'corral';
import { operationQueue } from './helpers/internals.js';

const { OperationQueue, OPERATION_MOVES } = operationQueue;
type ClusterState = 'idle' | 'starting' | 'running' | 'closing' | 'closed';

/** An operation body the test ends when it wants: `finish()` or `fail(error)`. */
function controlled<T = string>(value?: T) {
  let finish!: () => void;
  let fail!: (error: Error) => void;
  let started = false;
  const run = (): Promise<T | undefined> => {
    started = true;
    return new Promise<T | undefined>((resolve, reject) => {
      finish = () => resolve(value);
      fail = reject;
    });
  };
  return { run, finish: () => finish(), fail: (error: Error) => fail(error), get started() { return started; } };
}

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

function queueIn(state: ClusterState = 'running') {
  const cluster = { state };
  return { cluster, queue: new OperationQueue({ state: () => cluster.state }) };
}

describe('the operation queue', () => {
  test('runs operations one at a time, in the order asked for', async () => {
    const { queue } = queueIn();
    const first = controlled('scaled');
    const second = controlled('recycled');
    const results = [queue.enqueue('scale', first.run, 'scale to 3 workers'), queue.enqueue('recycle', second.run)];
    await turn();
    assert.equal(first.started, true);
    assert.equal(second.started, false, 'the second waits for the first');
    assert.deepEqual(queue.pending().map(({ kind, state }) => [kind, state]), [['scale', 'running'], ['recycle', 'waiting']]);
    assert.equal(queue.running?.what, 'scale to 3 workers');
    first.finish();
    assert.equal(await results[0], 'scaled');
    await turn();
    assert.equal(second.started, true);
    second.finish();
    assert.equal(await results[1], 'recycled');
    assert.deepEqual(queue.pending(), []);
    assert.equal(queue.running, undefined);
  });

  test('a reload asked for while another waits joins it: one more reload, shared by its callers', async () => {
    const { queue } = queueIn();
    const running = controlled('generation 2');
    const next = controlled('generation 3');
    let runs = 0;
    const first = queue.reload(running.run);
    await turn();
    const joined = [queue.reload(() => { runs += 1; return next.run(); }), queue.reload(() => { runs += 1; return next.run(); })];
    assert.equal(joined[0], joined[1], 'the same promise');
    running.finish();
    assert.equal(await first, 'generation 2');
    await turn();
    // Once it runs, a new request waits for another.
    const after = queue.reload(() => Promise.resolve('generation 4'));
    assert.notEqual(after, joined[0]);
    next.finish();
    assert.deepEqual(await Promise.all(joined), ['generation 3', 'generation 3']);
    assert.equal(runs, 1);
    assert.equal(await after, 'generation 4');
  });

  test('a stop cancels what it overtook, waiting or running, names each once, and refuses what comes after', async () => {
    const { cluster, queue } = queueIn();
    const running = controlled();
    const waiting = controlled();
    const reload = queue.reload(running.run);
    const scale = queue.enqueue('scale', waiting.run, 'scale to 4 workers');
    const joined = queue.reload(() => Promise.resolve('never'));
    await turn();
    cluster.state = 'closing';
    // The running one ends as the stop makes it end (its replacement cancelled).
    running.fail(new OperationCancelledError('reload'));
    await assert.rejects(reload, { code: 'CORRAL_ERR_CANCELLED' });
    await assert.rejects(scale, { code: 'CORRAL_ERR_CANCELLED' });
    await assert.rejects(joined, { code: 'CORRAL_ERR_CANCELLED' });
    assert.equal(waiting.started, false);
    await assert.rejects(queue.enqueue('recycle', () => Promise.resolve(true)), { code: 'CORRAL_ERR_CLUSTER_CLOSED' });
    await assert.rejects(queue.reload(() => Promise.resolve(true)), { code: 'CORRAL_ERR_CLUSTER_CLOSED' });
    await queue.settled();
    assert.deepEqual(queue.cancelled(), ['reload', 'scale to 4 workers']);
    assert.deepEqual(queue.pending(), []);
  });

  test('an operation asked for before the cluster started is refused at its turn (ClusterBusyError), and fails', async () => {
    const { queue } = queueIn('idle');
    const body = controlled();
    await assert.rejects(queue.enqueue('scale', body.run), { code: 'CORRAL_ERR_BUSY' });
    assert.equal(body.started, false);
    assert.deepEqual(queue.cancelled(), []);
  });

  test('a failing operation does not stop the next', async () => {
    const { queue } = queueIn();
    const failing = queue.enqueue('recycle', () => Promise.reject(new Error('fork failed')));
    const next = queue.enqueue('scale', () => Promise.resolve('scaled'));
    await assert.rejects(failing, /fork failed/);
    assert.equal(await next, 'scaled');
  });

  test('the move table: settled operations move no more, and every state is reachable from waiting', () => {
    for (const end of ['done', 'failed', 'cancelled'] as const) assert.deepEqual(OPERATION_MOVES[end], []);
    const reached = new Set<string>(['waiting']);
    for (let grew = true; grew;) {
      grew = false;
      for (const state of [...reached]) {
        for (const next of OPERATION_MOVES[state as keyof typeof OPERATION_MOVES]) if (!reached.has(next)) { reached.add(next); grew = true; }
      }
    }
    assert.deepEqual([...reached].sort(), ['cancelled', 'done', 'failed', 'running', 'waiting']);
  });

  test('random schedules of operations, finishes, failures and a stop: never two running, all settle, order kept', async () => {
    const step = fc.oneof(
      fc.record({ act: fc.constant('ask' as const), kind: fc.constantFrom('reload' as const, 'scale' as const, 'recycle' as const) }),
      fc.record({ act: fc.constantFrom('finish' as const, 'fail' as const) }),
      fc.record({ act: fc.constant('stop' as const) }),
    );
    await fc.assert(fc.asyncProperty(fc.array(step, { maxLength: 40 }), async (steps) => {
      const { cluster, queue } = queueIn();
      const bodies: ReturnType<typeof controlled<number>>[] = [];
      const started: number[] = [];
      const ended = new Set<number>();
      const results: Promise<unknown>[] = [];
      let maxRunning = 0;
      const watchRunning = (): void => {
        maxRunning = Math.max(maxRunning, queue.pending().filter((operation) => operation.state === 'running').length);
      };
      for (const next of steps) {
        if (next.act === 'ask') {
          const body = controlled(bodies.length);
          const number = bodies.length;
          bodies.push(body);
          const run = (): Promise<number | undefined> => { started.push(number); return body.run(); };
          const result = next.kind === 'reload' ? queue.reload(run) : queue.enqueue(next.kind, run);
          results.push(result.catch(() => undefined));
        } else if (next.act === 'stop') {
          cluster.state = 'closing';
        } else {
          const current = started.find((number) => !ended.has(number));
          if (current !== undefined) {
            ended.add(current);
            if (next.act === 'finish') bodies[current]!.finish(); else bodies[current]!.fail(new Error('failed'));
          }
        }
        watchRunning();
        await turn();
        watchRunning();
      }
      // The stop ends whatever still runs (as the cluster's shutdown makes its workers exit).
      cluster.state = 'closing';
      for (const number of started) if (!ended.has(number)) bodies[number]!.fail(new Error('stopped'));
      await Promise.all(results);
      await queue.settled();
      assert.ok(maxRunning <= 1, `${maxRunning} operations ran at once`);
      assert.deepEqual(started, [...started].sort((a, b) => a - b), 'operations start in the order asked for');
      assert.deepEqual(queue.pending(), [], 'every operation settled');
    }), { numRuns: 300 });
  });
});
