/**
 * How `corral start`'s own lines name the options they suggest: as its flags (`--ready online`),
 * the words of someone at a command line; and, when a config file is in use, also as that file's
 * key, since the fix may belong there.
 */
import path from 'node:path';
import { ReloadFailedError, type OptionWords } from '../errors.js';
import { OPTION_TABLE } from '../options/table.js';

/** `--<flag>` of an option of the table. */
function flagOf(key: 'readyWhen' | 'startTimeout'): string {
  return `--${OPTION_TABLE[key].flag?.name ?? key}`;
}

export function cliOptionWords(configFile: string | undefined): OptionWords {
  const file = configFile === undefined ? undefined : path.basename(configFile);
  const inFile = (key: string): string => (file === undefined ? '' : ` or ${key} in ${file}`);
  return {
    readyWhen: (value) => `${flagOf('readyWhen')} ${value}${inFile(`readyWhen: '${value}'`)}`,
    startTimeout: `${flagOf('startTimeout')}${inFile('startTimeout')}`,
  };
}

/** A reload's failure, told in `words` to the `corral reload` that asked. */
export async function inCliWords<T>(operation: Promise<T>, words: OptionWords): Promise<T> {
  try {
    return await operation;
  } catch (error) {
    if (!(error instanceof ReloadFailedError)) throw error;
    throw Object.assign(new Error(error.messageIn(words)), { code: error.code });
  }
}
