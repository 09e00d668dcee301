// The dispatching balancer's seam: the dispatcher owns the accept queue and the one-hand-off
// rule, and a strategy picks which free worker takes each connection, seeing what the
// dispatcher counted and what each worker last reported. Real sockets; the workers are the
// dispatcher's side of them (HandoffTarget), which accept or refuse each hand-off.
import assert from 'node:assert/strict';
import net from 'node:net';
import { describe, test } from 'node:test';
import type { HandoffOutcome, HandoffTarget, ListenQuery } from '../dist/primary/listen-handle.js';
import type { Candidate } from '../dist/primary/balancers/strategy.js';
import type { RuntimeReport } from 'corral';
import { dispatcher, symbols } from './helpers/internals.js';

const QUERY: ListenQuery = {
  address: '127.0.0.1', port: 0, addressType: 4, fd: undefined, flags: undefined, backlog: undefined,
  index: 0, data: null, readableAll: undefined, writableAll: undefined,
};

function report(connections: number): RuntimeReport {
  return {
    v: 1, seq: 1, at: Date.now(), interval: 1000, loop: { delay: 0 }, cpu: 0,
    memory: { rss: 1, heapUsed: 1, heapTotal: 1, external: 0 }, connections, requests: 0,
  };
}

/** A worker as the dispatcher sees it: records hand-offs and accepts them when told to. */
class Target implements HandoffTarget {
  readonly id: number;
  readonly received: ((outcome: HandoffOutcome) => void)[] = [];
  [symbols.kRuntimeReport]: RuntimeReport | undefined;
  #onHandoff: (() => void) | undefined;

  constructor(id: number, reported: RuntimeReport | undefined) {
    this.id = id;
    this[symbols.kRuntimeReport] = reported;
  }

  handoff(_key: string, client: { close(): void }, onOutcome: (outcome: HandoffOutcome) => void): boolean {
    this.received.push(onOutcome);
    client.close();
    this.#onHandoff?.();
    return true;
  }

  nextHandoff(): Promise<void> {
    return new Promise((resolve) => { this.#onHandoff = resolve; });
  }
}

describe('dispatcher and strategy', () => {
  test('the strategy picks among the free workers, longest idle first, with their counted and reported load', async () => {
    const seen: { ids: number[]; accepted: number[]; connections: (number | undefined)[] }[] = [];
    // Fewest reported connections: what a load-aware strategy does.
    const fewestConnections = () => ({
      pick: (candidates: readonly Candidate[]): Candidate => {
        seen.push({
          ids: candidates.map((candidate) => candidate.workerId),
          accepted: candidates.map((candidate) => candidate.load.accepted),
          connections: candidates.map((candidate) => candidate.load.report?.connections),
        });
        return [...candidates].sort((a, b) => (a.load.report?.connections ?? 0) - (b.load.report?.connections ?? 0))[0]!;
      },
    });
    const handle = new dispatcher.Dispatcher('test', '127.0.0.1', QUERY, fewestConnections, false);
    const targets = [new Target(1, report(5)), new Target(2, report(1)), new Target(3, undefined)];
    const ports = await Promise.all(targets.map((target) => new Promise<number>((resolve) => {
      handle.add(target, (errno, reply) => {
        assert.equal(errno, 0);
        resolve((reply as { sockname: { port: number } }).sockname.port);
      });
    })));
    const port = ports[0]!;
    const clients: net.Socket[] = [];
    try {
      // Worker 3 has no report yet (0 connections for this strategy), so it goes first.
      const third = targets[2]!.nextHandoff();
      clients.push(net.connect(port, '127.0.0.1'));
      await third;
      assert.deepEqual(seen[0], { ids: [1, 2, 3], accepted: [0, 0, 0], connections: [5, 1, undefined] });
      targets[2]![symbols.kRuntimeReport] = report(9);
      targets[2]!.received[0]!('accepted');
      // Now 2 reports the fewest; worker 3 counts one accepted connection.
      const second = targets[1]!.nextHandoff();
      clients.push(net.connect(port, '127.0.0.1'));
      await second;
      assert.deepEqual(seen[1], { ids: [1, 2, 3], accepted: [0, 0, 1], connections: [5, 1, 9] });
      // While 2's hand-off is unanswered it is not a candidate; a refusal puts the connection back.
      const first = targets[0]!.nextHandoff();
      targets[1]!.received[0]!('refused');
      await first;
      assert.deepEqual(seen[2]!.ids, [1, 3], 'the refused connection went to a free worker');
    } finally {
      for (const client of clients) client.destroy();
      for (const target of targets) handle.remove(target);
    }
  });

  test('held for a replacement: a socket whose last worker left keeps accepting, at most VACANT_QUEUE_LIMIT waiting; the next worker gets them; closeIfVacant() closes it', async () => {
    const roundRobin = () => ({ pick: (candidates: readonly Candidate[]): Candidate => candidates[0]! });
    const handle = new dispatcher.Dispatcher('held', '127.0.0.1', QUERY, roundRobin, false);
    const lost = new Target(1, undefined);
    const port = await new Promise<number>((resolve) => {
      handle.add(lost, (_errno, reply) => resolve((reply as { sockname: { port: number } }).sockname.port));
    });
    const clients: net.Socket[] = [];
    const connect = (): Promise<net.Socket> => new Promise((resolve) => {
      const client = net.connect(port, '127.0.0.1');
      client.on('error', () => {});
      clients.push(client);
      client.once('connect', () => resolve(client));
    });
    try {
      assert.equal(handle.remove(lost, true), false, 'held: not closed');
      const limit = dispatcher.VACANT_QUEUE_LIMIT;
      await Promise.all(Array.from({ length: limit }, connect));
      // The primary accepts them in its own turns of the event loop (this one): until all wait.
      for (let turns = 0; handle.queued < limit; turns += 1) {
        assert.ok(turns < 100_000, `${handle.queued} of ${limit} accepted`);
        await new Promise((resolve) => setImmediate(resolve));
      }
      const over = await connect();
      const closed = await new Promise<boolean>((resolve) => {
        over.once('close', () => resolve(true));
        over.resume();
      });
      assert.equal(closed, true, 'one over the limit is closed at once');
      assert.equal(handle.queued, limit);
      // The replacement joins: it is handed the waiting connections.
      const replacement = new Target(2, undefined);
      const handed = replacement.nextHandoff();
      handle.add(replacement, () => {});
      await handed;
      assert.equal(replacement.received.length, 1, 'one hand-off at a time');
      assert.equal(handle.remove(replacement, true), false);
      assert.equal(handle.closeIfVacant(), true, 'no worker came back: closed');
      const refused = await new Promise<string | undefined>((resolve) => {
        const client = net.connect(port, '127.0.0.1');
        client.once('connect', () => { client.destroy(); resolve('connected'); });
        client.once('error', (error: NodeJS.ErrnoException) => resolve(error.code));
      });
      assert.equal(refused, 'ECONNREFUSED');
    } finally {
      for (const client of clients) client.destroy();
    }
  });
});
