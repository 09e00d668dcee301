/**
 * How `corral start`'s own lines name the options they suggest: as its flags (`--ready online`),
 * the words of someone at a command line; and, when a config file is in use, also as that file's
 * key, since the fix may belong there.
 */
import path from 'node:path';
import type { OptionWords } from '../errors.js';
import { OPTION_TABLE } from '../options/table.js';
import type { Sources } from './cli-words.js';

/** `--<flag>` of an option of the table. */
function flagOf(key: 'readyWhen' | 'startTimeout'): string {
  return `--${OPTION_TABLE[key].flag?.name ?? key}`;
}

/**
 * `configFile`: the config file in use, if any; `sources`: where each key was set (a file's own
 * key, such as PM2's `listen_timeout` for startTimeout, is said as the file wrote it).
 */
export function cliOptionWords(configFile: string | undefined, sources: Sources = new Map()): OptionWords {
  const file = configFile === undefined ? undefined : path.basename(configFile);
  const inFile = (key: string): string => (file === undefined ? '' : ` or ${key} in ${file}`);
  /** The key as the file wrote it, if the file set it; else corral's. */
  const written = (key: string): string => {
    const source = sources.get(key);
    return source === undefined || source.startsWith('-') || !source.includes(': ') ? key : source.slice(source.lastIndexOf(': ') + 2);
  };
  return {
    readyWhen: (value) => `${flagOf('readyWhen')} ${value}${inFile(`readyWhen: '${value}'`)}`,
    startTimeout: `${flagOf('startTimeout')}${inFile(written('startTimeout'))}`,
  };
}
