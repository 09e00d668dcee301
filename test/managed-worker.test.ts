// A managed worker's life (src/managed/managed-worker.ts) in one process, over a fake process,
// a fake runtime link and the fake clock: readiness, the start timeout, the drain and its
// deadline, each move along WORKER_MOVES; and, over random schedules (fast-check), no illegal
// move, and every promise settles once the process exits.
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { FakeClock } from './helpers/fake-clock.js';
import { managedWorker } from './helpers/internals.js';

const { ManagedWorker, WORKER_MOVES } = managedWorker;

/** The process half: records the signals sent; the test says when it exits. */
class FakeProcess {
  readonly pid = 2 ** 22 + 17; // Above pid_max's default: no such process, and no children.
  readonly signals: string[] = [];
  kill(signal: string): boolean {
    this.signals.push(signal);
    return true;
  }
}

class FakeWorker extends EventEmitter {
  readonly id = 7;
  readonly process = new FakeProcess();
  /** The process ends: as Node says it. */
  exit(code: number | null, signal: string | null): void {
    this.emit('exit', code, signal);
  }
}

/** The runtime's link: `reachable` says whether the runtime can be asked to drain yet. */
class FakeLink extends EventEmitter {
  reachable = true;
  readonly drains: string[] = [];
  stderrTail = '';
  drain(reason: string): boolean {
    this.drains.push(reason);
    return this.reachable;
  }
  started(): void {}
}

function managed(readyWhen: 'listening' | 'online' | 'manual' = 'listening') {
  const clock = new FakeClock();
  const worker = new FakeWorker();
  const link = new FakeLink();
  const subject = new ManagedWorker(worker as never, link as never, {
    slot: 0, generation: 1, readyWhen, startTimeout: 1_000, reportInterval: 100, clock,
  });
  return { clock, worker, link, subject };
}

describe('a managed worker', () => {
  test('starting → ready on its first listen; started resolves ok, readyAt is the clock\'s time', async () => {
    const { clock, worker, subject } = managed();
    assert.equal(subject.state, 'starting');
    clock.advance(250);
    worker.emit('listening', {});
    assert.equal(subject.state, 'ready');
    assert.deepEqual(await subject.started, { ok: true });
    assert.equal(subject.readyAt, 250);
  });

  test('not ready within startTimeout: SIGKILLed, and its start failed as a timeout once it exited', async () => {
    const { clock, worker, subject } = managed();
    clock.advance(1_000);
    assert.deepEqual(worker.process.signals, ['SIGKILL']);
    assert.equal(subject.state, 'starting', 'until the process has exited');
    worker.exit(null, 'SIGKILL');
    assert.equal(subject.state, 'exited');
    const outcome = await subject.started;
    assert.equal(outcome.ok, false);
    assert.equal(!outcome.ok && outcome.failure.reason, 'timeout');
    const exit = await subject.exited;
    assert.deepEqual([exit.killed, exit.killCause], [true, 'start-timeout']);
  });

  test('ready → draining → exited: its runtime is asked to drain; at the deadline it is SIGKILLed', async () => {
    const { clock, worker, link, subject } = managed();
    worker.emit('listening', {});
    let routed = true;
    const drained = subject.drain('reload', 5_000, () => { routed = false; });
    assert.equal(subject.state, 'draining');
    assert.deepEqual([routed, link.drains, subject.endReason], [false, ['reload'], 'reload']);
    assert.equal(subject.drain('shutdown', 1, () => {}), drained, 'a second drain is the first');
    clock.advance(4_999);
    assert.deepEqual(worker.process.signals, []);
    clock.advance(1);
    assert.deepEqual(worker.process.signals, ['SIGKILL']);
    worker.exit(null, 'SIGKILL');
    const exit = await drained;
    assert.deepEqual([subject.state, exit.killed, exit.killCause], ['exited', true, 'deadline']);
  });

  test('drained while starting, before its runtime can be asked: SIGTERM; a listen after that does not make it ready', async () => {
    const { worker, link, subject } = managed();
    link.reachable = false;
    const drained = subject.drain('shutdown', 5_000, () => {});
    assert.deepEqual(worker.process.signals, ['SIGTERM']);
    worker.emit('listening', {});
    assert.equal(subject.state, 'draining');
    assert.equal(subject.isReady, false);
    worker.exit(0, null);
    const exit = await drained;
    assert.deepEqual([exit.killed, exit.stoppedWhileStarting, subject.state], [false, true, 'exited']);
  });

  test('a crash while ready: exited, with its code', async () => {
    const { worker, subject } = managed('online');
    worker.emit('online');
    worker.exit(1, null);
    assert.equal(subject.state, 'exited');
    assert.equal((await subject.exited).code, 1);
    assert.equal(subject.hasExited, true);
  });

  test('the move table: exited moves no more, and every state is reachable from starting', () => {
    assert.deepEqual(WORKER_MOVES.exited, []);
    const reached = new Set<keyof typeof WORKER_MOVES>(['starting']);
    for (let grew = true; grew;) {
      grew = false;
      for (const state of [...reached]) for (const next of WORKER_MOVES[state]) if (!reached.has(next)) { reached.add(next); grew = true; }
    }
    assert.deepEqual([...reached].sort(), ['draining', 'exited', 'ready', 'starting']);
  });

  test('random schedules of listens, messages, drains, time and an exit: only legal moves, and every promise settles once it exited', async () => {
    const event = fc.oneof(
      fc.constant({ kind: 'listening' as const }),
      fc.constant({ kind: 'online' as const }),
      fc.constant({ kind: 'ready-message' as const }),
      fc.record({ kind: fc.constant('drain' as const), reachable: fc.boolean(), timeout: fc.integer({ min: 1, max: 3_000 }) }),
      fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 1_500 }) }),
      fc.record({ kind: fc.constant('exit' as const), code: fc.constantFrom(0, 1, null) }),
    );
    await fc.assert(fc.asyncProperty(fc.constantFrom('listening' as const, 'online' as const, 'manual' as const), fc.array(event, { maxLength: 25 }), async (readyWhen, events) => {
      const { clock, worker, link, subject } = managed(readyWhen);
      const seen: string[] = [subject.state];
      const drains: Promise<unknown>[] = [];
      let exited = false;
      for (const next of events) {
        if (next.kind === 'listening') worker.emit('listening', {});
        else if (next.kind === 'online') worker.emit('online');
        else if (next.kind === 'ready-message') link.emit('ready');
        else if (next.kind === 'drain') {
          link.reachable = next.reachable;
          drains.push(subject.drain('shutdown', next.timeout, () => {}));
        } else if (next.kind === 'advance') clock.advance(next.ms);
        else if (!exited) {
          exited = true;
          worker.exit(next.code, next.code === null ? 'SIGKILL' : null);
        }
        if (seen.at(-1) !== subject.state) seen.push(subject.state);
      }
      if (!exited) worker.exit(null, 'SIGKILL');
      if (seen.at(-1) !== subject.state) seen.push(subject.state);
      for (let i = 1; i < seen.length; i++) {
        assert.ok(WORKER_MOVES[seen[i - 1] as keyof typeof WORKER_MOVES].includes(seen[i] as never), `${seen[i - 1]} → ${seen[i]}`);
      }
      assert.equal(subject.state, 'exited');
      await Promise.all([subject.started, subject.exited, ...drains]);
      // A SIGKILL only ever comes from the start timeout or a drain's deadline, after time passed.
      if (worker.process.signals.includes('SIGKILL')) assert.ok(clock.now() > 0);
    }), { numRuns: 400 });
  });
});
