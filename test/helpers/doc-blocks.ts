// The marked examples of a Markdown document (the README's, docs/frameworks.md's recipes), so
// that tests run them as written. A marker is an HTML comment on a line of its own; the code
// blocks after it, up to the next marker or heading, belong to it: a js, jsx or ts block is a file
// named by its first line (`// server.js`, `// src/main.ts`), an sh block adds its lines to the
// commands. Other blocks (output, JSON) are left out.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

export interface MarkedBlocks {
  /** The marker's match: its groups say what the document says about the example. */
  readonly marker: RegExpExecArray;
  /** File path (relative to the project) → its text. */
  readonly files: Map<string, string>;
  /** The sh blocks' lines, in order. */
  readonly commands: string[];
}

export function markedBlocks(file: string, marker: RegExp): MarkedBlocks[] {
  const lines = readFileSync(file, 'utf8').split('\n');
  const found: MarkedBlocks[] = [];
  let current: MarkedBlocks | undefined;
  for (let index = 0; index < lines.length; index += 1) {
    const line = lines[index]!;
    const match = marker.exec(line);
    if (match !== null) {
      current = { marker: match, files: new Map(), commands: [] };
      found.push(current);
      continue;
    }
    if (line.startsWith('#')) current = undefined;
    const fence = /^```(\w*)$/.exec(line);
    if (fence === null) continue;
    const end = lines.indexOf('```', index + 1);
    assert.ok(end > index, `${file} line ${index + 1}: a code block that never ends`);
    const body = lines.slice(index + 1, end);
    const at = index + 2;
    index = end;
    if (current === undefined) continue;
    if (fence[1] === 'sh') {
      current.commands.push(...body);
    } else if (/^(js|jsx|ts)$/.test(fence[1]!)) {
      const name = /^\/\/ ([\w./-]+\.[cm]?[jt]sx?)\b/.exec(body[0] ?? '')?.[1];
      assert.ok(name !== undefined, `${file} line ${at}: a code block of ${current.marker[1] ?? current.marker[0]} whose first line does not name its file`);
      current.files.set(name, `${body.join('\n')}\n`);
    }
  }
  return found;
}
