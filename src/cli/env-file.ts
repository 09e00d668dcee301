/**
 * Environment files (`--env-file`, config `envFile`): Node's dotenv format (util.parseEnv), read as
 * UTF-8 text. What is not is refused with the file and the fix, before anything forks: a UTF-16
 * file (what Windows PowerShell's `>` and some editors write) or any NUL byte would otherwise
 * reach the workers' environment, which cannot hold a NUL, and every fork would throw
 * ERR_INVALID_ARG_VALUE out of the primary as a stack trace.
 */
import { readFileSync } from 'node:fs';
import util from 'node:util';
import { CliError, EXIT } from './exit-codes.js';

const UTF8_BOM = Buffer.from([0xef, 0xbb, 0xbf]);

/**
 * The variables of `file`. `source` is how the user named it (`--env-file`, `corral.config.mjs:
 * envFile`), for messages.
 */
export function readEnvFile(file: string, source: string): Record<string, string> {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (error) {
    throw new CliError(`corral: ${source}: cannot read ${file} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}).`, EXIT.USAGE);
  }
  const problem = notUtf8Text(bytes);
  if (problem !== undefined) throw new CliError(`corral: ${source}: ${file} ${problem}`, EXIT.USAGE);
  // A UTF-8 byte order mark (Notepad writes one) would become part of the first variable's name.
  const text = (bytes.subarray(0, 3).equals(UTF8_BOM) ? bytes.subarray(3) : bytes).toString('utf8');
  return Object.fromEntries(Object.entries(util.parseEnv(text)).filter((entry): entry is [string, string] => entry[1] !== undefined));
}

/** Why `bytes` is not an environment file in UTF-8 (with the fix), or undefined. */
function notUtf8Text(bytes: Buffer): string | undefined {
  const toUtf8 = 'Save it as UTF-8 (iconv -f UTF-16 -t UTF-8 <file> > <file>.utf8; in PowerShell, Set-Content -Encoding utf8), and give that file.';
  if ((bytes[0] === 0xff && bytes[1] === 0xfe) || (bytes[0] === 0xfe && bytes[1] === 0xff)) {
    return `is UTF-16 text (it starts with a UTF-16 byte order mark), and env files are read as UTF-8. ${toUtf8}`;
  }
  const nul = bytes.indexOf(0);
  if (nul === -1) return undefined;
  // UTF-16 without a byte order mark: ASCII text has a NUL beside every character.
  const nuls = bytes.reduce((count, byte) => count + (byte === 0 ? 1 : 0), 0);
  if (nuls * 4 >= bytes.length) return `looks like UTF-16 text (a NUL byte beside each character), and env files are read as UTF-8. ${toUtf8}`;
  const line = bytes.subarray(0, nul).reduce((count, byte) => count + (byte === 0x0a ? 1 : 0), 1);
  return `holds a NUL byte (line ${line}), which no environment variable can hold: it is not a text file, or it was damaged. ` +
    'Remove the NUL bytes (tr -d \'\\000\' < <file> > <file>.clean), and give that file.';
}
