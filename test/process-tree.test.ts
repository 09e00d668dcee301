// The processes below a worker, as the primary and the worker's runtime find them to end what an
// app left running: /proc's process table is read at most once per turn of the event loop, however
// many trees are asked for (a stop of hundreds of workers), and a worker that started nothing that
// still runs reads nothing at all.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { describe, test } from 'node:test';
import type * as ProcessTree from '../dist/worker/process-tree.cjs';

const tree = (await import(new URL('../../dist/worker/process-tree.cjs', import.meta.url).href) as { default: typeof ProcessTree }).default;

describe('process tree', () => {
  test('a hundred trees asked for in one turn read the process table once (or, where the kernel lists children, never)', async () => {
    const child = spawn('sleep', ['30'], { stdio: 'ignore' });
    await once(child, 'spawn');
    try {
      const before = tree.tableReads();
      const found = Array.from({ length: 100 }, () => tree.descendantsOf(process.pid));
      assert.ok(found.every((pids) => pids.includes(child.pid!)), 'each finds the child');
      assert.equal(tree.tableReads() - before, tree.listsChildren() ? 0 : 1);
      // The next turn reads afresh: a process that ended is not found.
      child.kill('SIGKILL');
      await once(child, 'exit');
      await new Promise<void>((resolve) => setImmediate(resolve));
      assert.ok(!tree.descendantsOf(process.pid).includes(child.pid!));
    } finally {
      child.kill('SIGKILL');
    }
  });

  test('spawns are followed: a process with no child running may have no descendants, one with a child may', async () => {
    tree.followSpawns();
    // Where the kernel lists children, the tree is cheap to read and always is.
    const cheap = tree.listsChildren();
    assert.equal(tree.mayHaveDescendants(), cheap);
    const child = spawn('sleep', ['30'], { stdio: 'ignore' });
    await once(child, 'spawn');
    assert.equal(tree.mayHaveDescendants(), true);
    child.kill('SIGKILL');
    await once(child, 'exit');
    assert.equal(tree.mayHaveDescendants(), cheap);
    const failed = spawn('/nonexistent/command');
    await once(failed, 'error');
    assert.equal(tree.mayHaveDescendants(), cheap, 'a spawn that failed started nothing');
  });
});
