/**
 * The app's script of `corral start`, checked before anything forks and told in the words the
 * user wrote: a bare name that is no file here is a command of node_modules/.bin (`corral start
 * next`); a missing file, a directory or another language's file is refused with what it is and
 * what to give instead, rather than forked as JavaScript to fail in every worker.
 */
import { accessSync, constants, statSync, type Stats } from 'node:fs';
import path from 'node:path';
import { findBin, isBareName, shimTarget } from './bin-lookup.js';
import { CliError, EXIT } from './exit-codes.js';
import { foreignScript } from './script-kind.js';

/** Where the script was given: on the command line (`given`, as typed), or by a config file key (`label`). */
export interface ScriptOrigin {
  /** The command line's script argument, as typed; undefined when it came from a config file. */
  readonly given: string | undefined;
  /** The config file and key that set it (`corral.config.mjs: exec`), for messages. */
  readonly label: string;
  /** Where corral was started. */
  readonly cwd: string;
}

/** The file the workers run: `file` itself, or the file a command of node_modules/.bin runs. */
export function appScript(file: string, origin: ScriptOrigin): string {
  // "corral start: next …" for the command line's script; "corral: corral.config.mjs: exec: …" for a config file's.
  const who = origin.given === undefined ? `corral: ${origin.label}` : `corral start: ${origin.given}`;
  const stats = statOf(file);
  if (stats?.isFile() === true) return checked(file, origin.given === undefined ? `${who}: ${file}` : who);
  if (origin.given !== undefined && isBareName(origin.given)) {
    const bin = findBin(origin.given, origin.cwd);
    if (bin !== undefined) {
      const target = statOf(bin.target);
      if (target?.isFile() !== true) {
        throw new CliError(`${who}: ${bin.entry} runs ${bin.target}, which is missing. Install the app's dependencies again (npm install).`, EXIT.APP_FAILED);
      }
      return checked(bin.target, `${who} (${bin.entry}, which runs ${bin.target})`);
    }
    // `server.js` was meant as a file; `next` may have been either.
    if (stats === undefined && !/\.[cm]?[jt]sx?$/.test(origin.given)) {
      throw new CliError(`${who}: no file or command of that name: no ${file}, and no node_modules/.bin/${origin.given} in ${origin.cwd} ` +
        "or a parent directory. Give the path of the app's script (corral start ./server.js), or install the package whose command it is.", EXIT.APP_FAILED);
    }
  }
  if (stats !== undefined) {
    throw new CliError(`${origin.given === undefined ? `${who}: ${file}` : who} is ${stats.isDirectory() ? 'a directory' : 'not a file'}: ` +
      `give the app's script (${stats.isDirectory() ? `${path.join(origin.given ?? file, 'server.js')}` : './server.js'}).`, EXIT.APP_FAILED);
  }
  const where = origin.given === undefined ? 'relative to the config file' : `relative to ${origin.cwd}`;
  const base = path.basename(file);
  const bin = isBareName(base) ? findBin(base, origin.given === undefined ? path.dirname(file) : origin.cwd) : undefined;
  const suggestion = bin === undefined ? ''
    : ` Did you mean node_modules/.bin/${base}${origin.given === undefined ? '' : ` (corral start ${base})`}?`;
  throw new CliError(`${who}: no such file (looked for ${file}). Give the path of the app's script, ${where} or absolute.${suggestion}`, EXIT.APP_FAILED);
}

/** `file` if this user can read it and Node.js can run it; otherwise what it is and what to do. */
function checked(file: string, who: string): string {
  try {
    accessSync(file, constants.R_OK);
  } catch (error) {
    throw new CliError(`${who}: cannot read ${file} (${(error as NodeJS.ErrnoException).code ?? 'unreadable'}). ` +
      'Let the user that runs corral read it.', EXIT.APP_FAILED);
  }
  const foreign = foreignScript(file);
  if (foreign === undefined) return file;
  const name = path.basename(file);
  const shimmed = foreign.interpreter === 'sh' ? shimTarget(file) : undefined;
  const instead = shimmed !== undefined ? `It runs ${shimmed}: give corral that file.`
    : foreign.language === 'Bun' || foreign.language === 'Deno' ? `Run ${name} with ${foreign.language}, or give corral a JavaScript file that runs on Node.js.`
      : foreign.language === 'shell' || foreign.language === 'Windows batch' ? `Give corral the JavaScript file of the Node.js app that ${name} starts (corral start server.js), with any setup done before corral starts.`
        : `Give corral the JavaScript (or TypeScript) file of a Node.js app (corral start server.js); run ${name} under a process ` +
          'manager for any program instead (a systemd unit, supervisord…).';
  throw new CliError(`${who} is ${foreign.what}${foreign.by === undefined ? '' : ` (${foreign.by})`}, and corral runs Node.js apps: ` +
    `each worker runs the script with Node.js. ${instead}`, EXIT.APP_FAILED);
}

function statOf(file: string): Stats | undefined {
  try {
    return statSync(file);
  } catch {
    return undefined;
  }
}
