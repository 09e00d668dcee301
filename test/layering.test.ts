// The source's import graph (src/, type-only imports included): no module imports, through any
// chain, a module that imports it. Cycles are how layers rot (a lower floor reaching up), so
// they are kept at zero by this test rather than by review.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';

const SRC = fileURLToPath(new URL('../../src/', import.meta.url));
/** `import … from './x.js'`, `export … from`, `import x = require('./x.cjs')`, `require('./x.cjs')`. */
const IMPORT = /(?:import|export)\s+(?:type\s+)?(?:[^'";]*?\s+from\s+)?['"](\.[^'"]+)['"]|require\(['"](\.[^'"]+)['"]\)/g;

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const file = path.join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(file);
    return /\.c?ts$/.test(entry.name) && !entry.name.endsWith('.d.ts') ? [file] : [];
  });
}

/** Each source file and the source files it imports. */
function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of sourceFiles(SRC)) {
    const imports = new Set<string>();
    for (const match of readFileSync(file, 'utf8').matchAll(IMPORT)) {
      const specifier = match[1] ?? match[2]!;
      const target = path.resolve(path.dirname(file), specifier).replace(/\.js$/, '.ts').replace(/\.cjs$/, '.cts');
      if (existsSync(target)) imports.add(target);
    }
    graph.set(file, [...imports]);
  }
  return graph;
}

/** The strongly connected components of more than one file (Tarjan's algorithm). */
function cycles(graph: Map<string, string[]>): string[][] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (file: string): void => {
    index.set(file, next);
    low.set(file, next);
    next += 1;
    stack.push(file);
    onStack.add(file);
    for (const target of graph.get(file) ?? []) {
      if (!index.has(target)) {
        visit(target);
        low.set(file, Math.min(low.get(file)!, low.get(target)!));
      } else if (onStack.has(target)) {
        low.set(file, Math.min(low.get(file)!, index.get(target)!));
      }
    }
    if (low.get(file) !== index.get(file)) return;
    const component: string[] = [];
    let member: string;
    do {
      member = stack.pop()!;
      onStack.delete(member);
      component.push(path.relative(SRC, member));
    } while (member !== file);
    if (component.length > 1) found.push(component.sort());
  };
  for (const file of graph.keys()) if (!index.has(file)) visit(file);
  return found;
}

describe('the import graph of src/', () => {
  test('has no cycle', () => {
    const graph = importGraph();
    assert.ok(graph.size > 100, `${graph.size} source files read`);
    assert.ok([...graph.values()].some((imports) => imports.length > 5), 'imports were found');
    assert.deepEqual(cycles(graph), []);
  });

  test('the check finds a cycle where there is one', () => {
    const graph = new Map([[path.join(SRC, 'a.ts'), [path.join(SRC, 'b.ts')]], [path.join(SRC, 'b.ts'), [path.join(SRC, 'a.ts')]]]);
    assert.deepEqual(cycles(graph), [['a.ts', 'b.ts']]);
  });
});
