// The lifecycle algorithms as state machines over a fake clock and fake hosts: no processes.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { StartFailedError, type StartFailure } from 'corral';
import { FakeClock } from './helpers/fake-clock.js';
import { logger, optionWords, rollingReload, scaling, startOptions, supervision } from './helpers/internals.js';

const RESTART = { minDelay: 100, maxDelay: 1_000, factor: 2, jitter: 0, resetAfter: 10_000, minUptime: 1_000 };
const CRASH_LOOP = { maxCrashes: 4, window: 60_000, retryDelay: 30_000 };
const crash = { planned: false, failedStart: false, uptime: 2_000, clusterStarting: false };

function supervisor(clock: FakeClock, overrides: Partial<{ startAttempts: number }> = {}) {
  return new supervision.SlotSupervisor({ restart: RESTART, crashLoop: CRASH_LOOP, startAttempts: 3, ...overrides }, clock, () => 0.5);
}

describe('slot supervision', () => {
  test('a first crash restarts at once, crashes in a row back off exponentially; a planned exit is refilled at once', () => {
    const clock = new FakeClock();
    const slot = supervisor(clock);
    const delays = [1, 2, 3].map(() => {
      clock.advance(2_000);
      const verdict = slot.exited(crash);
      assert.equal(verdict.action, 'restart');
      return verdict.action === 'restart' ? verdict.delay : -1;
    });
    assert.deepEqual(delays, [0, 100, 200]);
    const planned = slot.exited({ ...crash, planned: true });
    assert.deepEqual(planned, { action: 'restart', delay: 0, crashes: 3, crashloop: false, enteredCrashloop: false });
  });

  test('maxCrashes within the window enter crashloop once, retried every retryDelay; a long run recovers', () => {
    const clock = new FakeClock();
    const slot = supervisor(clock);
    const verdicts = [1, 2, 3, 4, 5].map(() => {
      clock.advance(1_000);
      return slot.exited(crash);
    });
    assert.deepEqual(verdicts.map((verdict) => verdict.action === 'restart' && verdict.enteredCrashloop), [false, false, false, true, false]);
    assert.deepEqual(verdicts.map((verdict) => verdict.action === 'restart' && verdict.delay), [0, 100, 200, 30_000, 30_000]);
    assert.equal(slot.crashloop, true);
    // A retry that becomes ready and runs resetAfter ms ends the crashloop.
    slot.forked();
    slot.ready();
    clock.advance(9_999);
    assert.equal(slot.crashloop, true);
    clock.advance(1);
    assert.equal(slot.crashloop, false);
    assert.equal(slot.crashes, 0);
  });

  test('a serving worker killed from outside, or one that ran minUptime after it was ready, is refilled at once and never makes a crash loop', () => {
    const clock = new FakeClock();
    const slot = supervisor(clock);
    const exits = [
      { ...crash, readyFor: 10, killedFromOutside: true }, // SIGKILL from an OOM killer or a chaos test
      { ...crash, readyFor: 1_000 }, // exited on its own after serving minUptime
      { ...crash, failedStart: true, uptime: 20, killedFromOutside: true }, // a start cut short by a kill
    ];
    for (let index = 0; index < 30; index += 1) {
      clock.advance(100);
      const verdict = slot.exited(exits[index % exits.length]!);
      assert.deepEqual(verdict, { action: 'restart', delay: 0, crashes: 0, crashloop: false, enteredCrashloop: false }, `exit ${index + 1}`);
    }
    // An early crash (on its own, within minUptime of readiness) still backs off.
    slot.exited({ ...crash, readyFor: 999 });
    const second = slot.exited({ ...crash, readyFor: 999 });
    assert.ok(second.action === 'restart' && second.delay === 100 && second.crashes === 2);
  });

  test('a worker SIGKILLed past maxMemoryHard before resetAfter backs off as an early crash, however long it served; after resetAfter it is refilled at once', () => {
    const clock = new FakeClock();
    const slot = supervisor(clock);
    const memoryKill = { ...crash, uptime: 3_000, readyFor: 2_500, killedForMemory: true };
    const verdicts = [1, 2, 3, 4].map(() => {
      clock.advance(3_000);
      return slot.exited(memoryKill);
    });
    assert.deepEqual(verdicts.map((verdict) => verdict.action === 'restart' && verdict.delay), [0, 100, 200, 30_000]);
    assert.deepEqual(verdicts.map((verdict) => verdict.action === 'restart' && verdict.enteredCrashloop), [false, false, false, true]);
    // One that ran resetAfter before reaching the limit is a leak over time, not a loop.
    const other = supervisor(clock);
    for (let index = 0; index < 10; index += 1) {
      clock.advance(10_000);
      const verdict = other.exited({ ...memoryKill, uptime: 10_000, readyFor: 9_800 });
      assert.deepEqual(verdict, { action: 'restart', delay: 0, crashes: 0, crashloop: false, enteredCrashloop: false }, `kill ${index + 1}`);
    }
  });

  test('crashes spread wider than the window never enter crashloop', () => {
    const clock = new FakeClock();
    const slot = supervisor(clock);
    for (let index = 0; index < 10; index += 1) {
      clock.advance(20_000);
      const verdict = slot.exited(crash);
      assert.ok(verdict.action === 'restart' && !verdict.crashloop, `crash ${index + 1}`);
    }
  });

  test('while the cluster first starts, startAttempts failed starts in a row give up', () => {
    const clock = new FakeClock();
    const slot = supervisor(clock);
    const failed = { ...crash, failedStart: true, clusterStarting: true, uptime: 50 };
    assert.equal(slot.exited(failed).action, 'restart');
    assert.equal(slot.exited(failed).action, 'restart');
    assert.deepEqual(slot.exited(failed), { action: 'give-up', attempts: 3 });
    // Once the cluster has been ready, failed starts back off instead.
    const later = supervisor(clock);
    for (let index = 0; index < 5; index += 1) assert.equal(later.exited({ ...failed, clusterStarting: false }).action, 'restart');
  });

  test('while the cluster first starts, a worker alive at its startTimeout but not ready is tried again as any failed start (an app waiting for its database)', () => {
    const clock = new FakeClock();
    const slot = supervisor(clock);
    const waited = { ...crash, failedStart: true, clusterStarting: true, uptime: 30_000 };
    assert.equal(slot.exited(waited).action, 'restart');
    assert.equal(slot.exited(waited).action, 'restart');
    assert.deepEqual(slot.exited(waited), { action: 'give-up', attempts: 3 });
  });

  test('restart: false leaves the slot empty', () => {
    const slot = new supervision.SlotSupervisor({ restart: false, crashLoop: CRASH_LOOP, startAttempts: 3 }, new FakeClock());
    assert.deepEqual(slot.exited(crash), { action: 'none' });
  });

  test('the fork rate limiter lets `limit` forks through per sliding second', () => {
    const clock = new FakeClock();
    const limiter = new supervision.ForkRateLimiter(() => 3, clock);
    for (let index = 0; index < 3; index += 1) {
      assert.equal(limiter.wait(), 0);
      limiter.record();
      clock.advance(100);
    }
    assert.equal(limiter.wait(), 700);
    clock.advance(700);
    assert.equal(limiter.wait(), 0);
  });
});

const failure = (slot: number): StartFailure => ({
  slot, workerId: 10 + slot, pid: 100 + slot, reason: 'exited', exitCode: 1, signal: null,
  readyWhen: 'listening', startTimeout: 1_000, stderr: 'Error: boom',
});

describe('a failed start, told', () => {
  const timeout = (readyWhen: string, alive: boolean): StartFailure => ({
    slot: 0, workerId: 1, pid: 4887, reason: 'timeout', exitCode: null, signal: 'SIGKILL', readyWhen, startTimeout: 30_000, stderr: '', alive,
  });

  test('a worker alive that never listened: said at once, with readyWhen \'online\' for apps that serve no port', () => {
    const error = new StartFailedError(timeout('listening', true), 1);
    assert.equal(error.message, "The cluster could not start: the worker for slot 0 (pid 4887) was alive, its event loop turning, but did not " +
      'listen on a port within 30000 ms (startTimeout), so corral stopped it. An app that serves no port (a queue consumer, a scheduled job) ' +
      "needs readyWhen: 'online': its workers are ready once they run. One that listens only after a slow start needs a longer startTimeout. " +
      'It failed 1 time in a row (startAttempts), so corral gave up.');
    // corral start's lines name the flags, and the config file's keys when one is in use.
    assert.match(error.messageIn(optionWords.cliOptionWords(undefined)), /within 30000 ms \(--start-timeout\), .* needs --ready online: .* a longer --start-timeout\./);
    assert.match(error.messageIn(optionWords.cliOptionWords('/srv/api/corral.config.json')),
      /needs --ready online or readyWhen: 'online' in corral\.config\.json: /);
    // A PM2 ecosystem file's own key, as it wrote it.
    const pm2 = new Map([['startTimeout', 'ecosystem.config.js: listen_timeout']]);
    assert.match(error.messageIn(optionWords.cliOptionWords('/srv/api/ecosystem.config.js', pm2)),
      /needs a longer --start-timeout or listen_timeout in ecosystem\.config\.js\./);
  });

  test('under readyWhen \'manual\', a worker that neither called ready() nor sent \'ready\' is told of both ways', () => {
    const error = new StartFailedError(timeout('manual', false), 3);
    assert.match(error.message, /did not call ready\(\) from corral\/worker nor process\.send\('ready'\) within 30000 ms \(startTimeout\)/);
    assert.match(error.message, /It failed 3 times in a row \(startAttempts\), so corral gave up\.$/);
    assert.match(error.messageIn(optionWords.cliOptionWords(undefined)), /With --ready manual the app says that it can take traffic in one of these two ways/);
  });

  test('a worker that timed out with no sign of life keeps the plain advice, and its retries', () => {
    const error = new StartFailedError(timeout('listening', false), 3);
    assert.match(error.message, /did not listen on a port within 30000 ms \(startTimeout\), so corral stopped it\. Raise startTimeout if the app needs longer to start, or use readyWhen: 'online' if it serves no port\. It failed 3 times/);
  });
});

describe('rolling reload', () => {
  test('replaces one slot at a time, each before its predecessor retires, and waits for every retirement', async () => {
    const events: string[] = [];
    const retirements: (() => void)[] = [];
    const host = {
      replace: async (slot: number) => {
        events.push(`start ${slot}`);
        await Promise.resolve();
        events.push(`ready ${slot}`);
        const retired = new Promise<void>((resolve) => { retirements.push(resolve); }).then(() => {
          events.push(`retired ${slot}`);
          return undefined;
        });
        return { ok: true as const, retired };
      },
    };
    const pending = rollingReload.rollingReload([0, 1, 2], host, 1);
    // Retirements are resolved later, out of order with the starts.
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(retirements.length, 3, 'every slot was replaced before any old worker retired');
    for (const retire of retirements) retire();
    const result = await pending;
    assert.deepEqual(result, { replaced: [0, 1, 2], failure: undefined, killed: [] });
    assert.deepEqual(events.slice(0, 6), ['start 0', 'ready 0', 'start 1', 'ready 1', 'start 2', 'ready 2']);
    assert.ok(events.includes('retired 2'));
  });

  test('stops at the first failed replacement and leaves later slots alone', async () => {
    const replacedSlots: number[] = [];
    const host = {
      replace: (slot: number) => {
        replacedSlots.push(slot);
        return Promise.resolve(slot === 1 ? { ok: false as const, failure: failure(1) } : { ok: true as const, retired: Promise.resolve(undefined) });
      },
    };
    const result = await rollingReload.rollingReload([0, 1, 2, 3], host, 1);
    assert.deepEqual(replacedSlots, [0, 1]);
    assert.deepEqual(result.replaced, [0]);
    assert.equal(result.failure?.slot, 1);
  });

  test('concurrency runs that many slots at once', async () => {
    let running = 0;
    let most = 0;
    const host = {
      replace: async () => {
        running += 1;
        most = Math.max(most, running);
        await new Promise((resolve) => setImmediate(resolve));
        running -= 1;
        return { ok: true as const, retired: Promise.resolve(undefined) };
      },
    };
    await rollingReload.rollingReload([0, 1, 2, 3, 4], host, 2);
    assert.equal(most, 2);
  });

  test('old workers SIGKILLed at their deadline are in the result, in slot order, with what held them', async () => {
    const kill = (slot: number, openConnections: number | null) => ({
      slot, workerId: slot + 1, pid: 100 + slot, reason: 'reload' as const, cause: 'deadline' as const, timeout: 1500, openConnections, starting: false,
    });
    const host = {
      replace: (slot: number) => Promise.resolve({
        ok: true as const,
        // Slot 2's old worker takes longest to be killed: the list is still in slot order.
        retired: slot === 1 ? Promise.resolve(undefined) : new Promise<ReturnType<typeof kill>>((resolve) => setImmediate(resolve, kill(slot, slot === 0 ? 0 : 2))),
      }),
    };
    const result = await rollingReload.rollingReload([2, 1, 0], host, 1);
    assert.deepEqual(result.killed, [kill(0, 0), kill(2, 2)]);
  });
});

describe('scaling', () => {
  test('adds the lowest free slots and removes the highest', () => {
    assert.deepEqual(scaling.planScale([0, 1, 2, 3], 2), { add: [], remove: [3, 2] });
    assert.deepEqual(scaling.planScale([0, 2], 4), { add: [1, 3], remove: [] });
    assert.deepEqual(scaling.planScale([0, 1], 2), { add: [], remove: [] });
  });

  test('targets: N, +N, -N; out of range or malformed is refused with the current count', () => {
    assert.equal(scaling.scaleTarget(3, 2), 3);
    assert.equal(scaling.scaleTarget('+2', 2), 4);
    assert.equal(scaling.scaleTarget('-1', 2), 1);
    assert.throws(() => scaling.scaleTarget('-2', 2), /a worker count from 1 to 1024, or \+N \/ -N \(now 2\), got '-2' \(string\)\. -2 from 2 workers would leave 0: a running cluster keeps at least 1 worker\. Scale down by -1 at most/);
    assert.throws(() => scaling.scaleTarget('-1', 1), /-1 from 1 worker would leave 0: a running cluster keeps at least 1 worker\. It runs 1 worker, the fewest; to run none, stop the app/);
    assert.throws(() => scaling.scaleTarget(0, 3), /got `0` \(number\)\. 0 workers: a running cluster keeps at least 1 worker\. Scale down by -2 at most \(to 1 worker\)/);
    assert.throws(() => scaling.scaleTarget(1025, 1024), /1025 workers: a cluster runs 1024 workers at most\. Ask for 1024 at most\./);
    assert.throws(() => scaling.scaleTarget('lots', 2), /got 'lots'/);
  });
});

describe('the command line', () => {
  test('log lines carry a timestamp, one per line of the message, or one JSON object each', () => {
    const lines: string[] = [];
    const now = () => new Date('2026-01-02T03:04:05.678Z');
    logger.createLogger('api', 'text', (line) => lines.push(line), now).log('error', 'start-failed', 'first\nsecond');
    logger.createLogger('api', 'json', (line) => lines.push(line), now).log('info', 'ready', 'ready: 2 workers', { workers: 2 });
    assert.deepEqual(lines.slice(0, 2), [
      '2026-01-02T03:04:05.678Z corral[api] ERROR first\n',
      '2026-01-02T03:04:05.678Z corral[api] ERROR second\n',
    ]);
    assert.deepEqual(JSON.parse(lines[2]!), { time: '2026-01-02T03:04:05.678Z', level: 'info', app: 'api', event: 'ready', msg: 'ready: 2 workers', workers: 2 });
  });

  test('--node-args splits like a shell for spaces and quotes', () => {
    assert.deepEqual(startOptions.splitArgs('--max-old-space-size=512  --import "./a b.js" \'x y\''), [
      '--max-old-space-size=512', '--import', './a b.js', 'x y',
    ]);
  });
});
