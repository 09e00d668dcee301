/**
 * Whether a file is a program Node.js can run, told from its name and first bytes: an app in
 * another language (worker.py, main.go, a shell script) would otherwise be forked as JavaScript
 * and fail in every worker with a SyntaxError or ERR_UNKNOWN_FILE_EXTENSION, once per start
 * attempt, that says nothing of the mistake.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import path from 'node:path';

/** What Node.js runs as JavaScript, or as TypeScript (type stripping, or a loader such as tsx). */
const NODE_EXTENSIONS: ReadonlySet<string> = new Set(['.js', '.cjs', '.mjs', '.jsx', '.ts', '.mts', '.cts', '.tsx']);

/** Other languages' files, by extension. */
const LANGUAGES: Readonly<Record<string, string>> = {
  '.py': 'Python', '.pyw': 'Python', '.pyc': 'compiled Python', '.rb': 'Ruby', '.go': 'Go', '.rs': 'Rust', '.php': 'PHP',
  '.pl': 'Perl', '.pm': 'Perl', '.sh': 'shell', '.bash': 'shell', '.zsh': 'shell', '.ksh': 'shell', '.fish': 'fish shell',
  '.java': 'Java', '.jar': 'Java', '.class': 'Java', '.kt': 'Kotlin', '.kts': 'Kotlin', '.scala': 'Scala', '.groovy': 'Groovy',
  '.cs': 'C#', '.fs': 'F#', '.c': 'C', '.cc': 'C++', '.cpp': 'C++', '.cxx': 'C++', '.swift': 'Swift', '.lua': 'Lua',
  '.ex': 'Elixir', '.exs': 'Elixir', '.erl': 'Erlang', '.hs': 'Haskell', '.r': 'R', '.dart': 'Dart', '.zig': 'Zig',
  '.nim': 'Nim', '.cr': 'Crystal', '.jl': 'Julia', '.ps1': 'PowerShell', '.bat': 'Windows batch', '.cmd': 'Windows batch',
  '.exe': 'Windows executable', '.wasm': 'WebAssembly',
};

/** Interpreters of `#!` lines that run JavaScript on Node.js (tsx, ts-node: a loader over Node). */
const NODE_INTERPRETER = /^(node|nodejs|node\d[\d.]*|tsx|ts-node(-esm|-script)?|babel-node|esno|sucrase-node|swc-node)$/;

/** Interpreters of `#!` lines, by the language they run. */
const INTERPRETERS: readonly (readonly [RegExp, string])[] = [
  [/^(sh|bash|dash|zsh|ksh|ash|mksh)$/, 'shell'], [/^python[\d.]*$/, 'Python'], [/^ruby[\d.]*$/, 'Ruby'], [/^perl[\d.]*$/, 'Perl'],
  [/^php[\d.]*$/, 'PHP'], [/^bun$/, 'Bun'], [/^deno$/, 'Deno'], [/^lua[\d.]*$/, 'Lua'], [/^fish$/, 'fish shell'],
];

/** Executables, by their first bytes. */
const MAGIC: readonly (readonly [Buffer, string])[] = [
  [Buffer.from([0x7f, 0x45, 0x4c, 0x46]), 'a compiled program (an ELF executable)'],
  [Buffer.from([0xcf, 0xfa, 0xed, 0xfe]), 'a compiled program (a Mach-O executable)'],
  [Buffer.from([0xce, 0xfa, 0xed, 0xfe]), 'a compiled program (a Mach-O executable)'],
  [Buffer.from([0xca, 0xfe, 0xba, 0xbe]), 'a compiled Java class or Mach-O program'],
  [Buffer.from('MZ'), 'a Windows executable'],
  [Buffer.from([0x00, 0x61, 0x73, 0x6d]), 'a WebAssembly module'],
  [Buffer.from([0x50, 0x4b, 0x03, 0x04]), 'a zip archive (a .jar?)'],
];

/** What a file that is not for Node.js is, and how that was told. */
export interface ForeignScript {
  /** "a Python file", "a shell script", "a compiled program (an ELF executable)". */
  readonly what: string;
  /** How that was told, when the file's name or first line says it: "by its .py extension", "its first line is #!/bin/sh". */
  readonly by?: string;
  /** The language or kind of program, to name its own tools: "Python", "shell", "compiled". */
  readonly language: string;
  /** The interpreter of its `#!` line, when it has one. */
  readonly interpreter?: string;
}

/**
 * Undefined when Node.js may run `file`: a JavaScript or TypeScript extension, a `#!` line that
 * runs node, or text of any other name (an extensionless bin is JavaScript more often than not).
 * Otherwise what it is.
 */
export function foreignScript(file: string): ForeignScript | undefined {
  const extension = path.extname(file).toLowerCase();
  if (NODE_EXTENSIONS.has(extension)) return undefined;
  const head = readHead(file);
  const shebang = /^#!\s*([^\r\n]*)/.exec(head.toString('latin1'))?.[1];
  if (shebang !== undefined) {
    const interpreter = interpreterOf(shebang);
    if (interpreter !== undefined && NODE_INTERPRETER.test(interpreter)) return undefined;
    const language = INTERPRETERS.find(([pattern]) => interpreter !== undefined && pattern.test(interpreter))?.[1];
    // An interpreter it does not know (zx, jiti, vite-node…) is often Node's own tooling: Node skips the line.
    if (language === undefined) return undefined;
    return {
      what: language === undefined ? `a script for ${interpreter ?? 'another interpreter'}` : `a ${language} script`,
      by: `its first line is #!${shebang.trim()}`,
      language: language ?? interpreter ?? 'another',
      ...(interpreter === undefined ? {} : { interpreter }),
    };
  }
  const language = LANGUAGES[extension];
  if (language !== undefined) {
    return { what: `a ${language} file`, by: `by its ${extension} extension`, language };
  }
  // No text holds a NUL byte; every executable's header does.
  if (!head.includes(0)) return undefined;
  const magic = MAGIC.find(([bytes]) => head.subarray(0, bytes.length).equals(bytes));
  return magic === undefined ? { what: 'a binary file', by: 'it holds NUL bytes, which no script does', language: 'compiled' }
    : { what: magic[1], language: 'compiled' };
}

/** `/usr/bin/env -S node --flag` → node; `/bin/sh -e` → sh. */
function interpreterOf(shebang: string): string | undefined {
  const words = shebang.trim().split(/\s+/);
  let program = path.basename(words[0] ?? '');
  if (program === 'env') {
    // env's options and NAME=value assignments come before the program.
    program = path.basename(words.slice(1).find((word) => !word.startsWith('-') && !word.includes('=')) ?? '');
  }
  return program === '' ? undefined : program;
}

/** The first bytes of the file (enough for a `#!` line and magic numbers). */
function readHead(file: string): Buffer {
  const buffer = Buffer.alloc(512);
  const fd = openSync(file, 'r');
  try {
    return buffer.subarray(0, readSync(fd, buffer, 0, buffer.length, 0));
  } finally {
    closeSync(fd);
  }
}
