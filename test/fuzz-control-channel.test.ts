// Property-based fuzzing of the control channel: a real worker process sends random and mutated
// NODE_CLUSTER frames (generated here with fast-check) to corral's primary, under both balancers,
// while another worker serves real connections. The primary must never crash, must answer every
// queryServer frame (each has a seq), must keep serving, and must not leak descriptors or servers.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, afterEach, describe, test } from 'node:test';
import fc from 'fast-check';
import { ClusterPrimary, SCHED_NONE, SCHED_RR } from 'corral';
import {
  cleanup, exited, forkWorker, report, reports, until, type Implementation,
} from './helpers/harness.js';
import { freePort, readMany } from './helpers/net-client.js';

const RUNS = 300;
const SOCKET_DIR = fs.mkdtempSync(path.join(os.tmpdir(), 'corral-fuzz-'));
afterEach(cleanup);
after(() => fs.rmSync(SOCKET_DIR, { recursive: true, force: true }));

const openDescriptors = (): number => fs.readdirSync('/proc/self/fd').length;

const anyJson = fc.oneof(
  fc.constant(null), fc.boolean(), fc.integer(), fc.double(), fc.string({ maxLength: 8 }),
  fc.array(fc.integer(), { maxLength: 3 }), fc.dictionary(fc.string({ maxLength: 4 }), fc.integer(), { maxKeys: 3 }),
);
// Addresses stay IP literals, a socket path in a temporary folder, or non-strings: a host name
// would send the primary to DNS, and a free-form path would bind sockets in its working folder.
const fields = {
  act: fc.oneof(fc.constantFrom('queryServer', 'listening', 'close', 'online'), fc.string({ maxLength: 12 }), anyJson),
  address: fc.oneof(fc.constantFrom(null, undefined, '127.0.0.1', '::1', '::ffff:127.0.0.1', '', path.join(SOCKET_DIR, 'a.sock')), fc.integer(), anyJson.filter((value) => typeof value !== 'string')),
  port: fc.oneof(fc.constantFrom(0, -1, null, undefined, '0', '', 'x', 65_536, -2, 1.5), fc.integer({ min: 20_000, max: 60_000 })),
  addressType: fc.oneof(fc.constantFrom(4, 6, -1, 'udp4', 'udp6', null, undefined, 5, '4'), anyJson),
  fd: fc.oneof(fc.constant(undefined), fc.integer({ min: -2, max: 64 }), fc.constantFrom(null, '3', 1.5)),
  index: fc.oneof(fc.integer({ min: 0, max: 3 }), fc.constantFrom(-1, 'x', null, 1.5)),
  flags: fc.oneof(fc.constant(undefined), fc.integer({ min: -1, max: 16 }), anyJson),
  backlog: fc.oneof(fc.constant(undefined), fc.integer({ min: -1, max: 600 }), anyJson),
  key: fc.oneof(fc.string({ maxLength: 40 }), anyJson),
  data: anyJson,
};
type Field = keyof typeof fields;
// Not generated: exitedAfterDisconnect, which marks the worker as leaving; node:cluster, and so
// corral, answer no query after it (the lifecycle tests cover it).
/** A query Node's worker half could send: TCP or UDP, on loopback, on port 0 or a high port. */
const validQuery: fc.Arbitrary<Record<string, unknown>> = fc.record({
  family: fc.constantFrom(4, 6), udp: fc.boolean(), port: fc.oneof(fc.constant(0), fc.integer({ min: 20_000, max: 60_000 })),
  index: fc.integer({ min: 0, max: 3 }),
}).map(({ family, udp, port, index }) => ({
  act: 'queryServer', address: family === 4 ? '127.0.0.1' : '::1', port,
  addressType: udp ? `udp${family}` : family, index, data: null,
}));
/** A valid query with one or two fields replaced by anything. */
const mutatedQuery = validQuery.chain((query) => fc.uniqueArray(fc.constantFrom(...Object.keys(fields) as Field[]), { minLength: 1, maxLength: 2 })
  .chain((keys) => fc.tuple(...keys.map((key) => fields[key])).map((values) => {
    const mutated = { ...query };
    keys.forEach((key, i) => { mutated[key] = values[i]; });
    return mutated;
  })));
const randomFrame: fc.Arbitrary<Record<string, unknown>> = fc.record(fields, { requiredKeys: ['act'] });
const frame = fc.oneof(validQuery, mutatedQuery, mutatedQuery, randomFrame);

for (const [name, policy] of [['round-robin', SCHED_RR], ['shared', SCHED_NONE]] as const) {
  describe(`fuzzing the control channel (${name})`, () => {
    test(`${RUNS} batches of random frames: no crash, every queryServer answered, still serving, nothing leaked`, { timeout: 120_000 }, async () => {
      const impl: Implementation = { name: 'corral', cluster: new ClusterPrimary({ schedulingPolicy: policy }) };
      const primary = impl.cluster as unknown as ClusterPrimary;
      const servePort = await freePort();
      const server = forkWorker(impl, 'serve', { HOST: '127.0.0.1', PORT: String(servePort) });
      await report(server, 'listening');
      const servers = primary.openServerCount;
      const descriptors = openDescriptors();

      const fuzzer = forkWorker(impl, 'fuzz-frames');
      await report(fuzzer, 'ready');
      let batch = 0;
      await fc.assert(fc.asyncProperty(fc.array(frame, { maxLength: 20 }), async (frames) => {
        batch += 1;
        const current = batch;
        fuzzer.send({ cmd: 'frames', frames, batch: current });
        await until(fuzzer, 'message', () => reports(fuzzer).some((message) => message.type === 'fuzz-done' && message['batch'] === current), 10_000);
        if (current % 20 === 0) assert.deepEqual(await readMany(servePort, 2, 1), [String(server.id), String(server.id)]);
      }), { numRuns: RUNS });

      // Still serving, and once the fuzzing worker is gone, everything it got is released.
      assert.deepEqual(await readMany(servePort, 3, 1), [String(server.id), String(server.id), String(server.id)]);
      fuzzer.process.kill('SIGKILL');
      await exited(fuzzer);
      await until(primary, 'exit', () => !Object.hasOwn(primary.workers, fuzzer.id));
      assert.equal(primary.openServerCount, servers);
      assert.equal(openDescriptors(), descriptors);
    });
  });
}
