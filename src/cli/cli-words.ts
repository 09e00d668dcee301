/**
 * corral's messages in the words of the one who reads them. createCluster()'s errors, and its
 * descriptions of what it did, name options by their keys (`maxMemory`, `startTimeout`); a user of
 * `corral start` wrote flags (`--max-memory`), or keys of a config file. Each key with a flag is
 * said as the flag, unless a config file set it (its keys are then the user's words).
 */
import { OPTION_TABLE } from '../options/table.js';
import { CLI_KEY_TABLE } from './cli-options.js';

/** Each key that has a flag → the flag, longest key first (so that maxMemoryHard is not read as maxMemory). */
const FLAGS: readonly (readonly [string, string])[] = [...Object.entries(OPTION_TABLE), ...Object.entries(CLI_KEY_TABLE)]
  .flatMap(([key, spec]) => ('flag' in spec && spec.flag !== undefined ? [[key, `--${spec.flag.name}`] as const] : []))
  .sort(([a], [b]) => b.length - a.length);

/** Where each key was set: `--max-memory`, `corral.config.mjs: maxMemory` (StartRequest.sources). */
export type Sources = ReadonlyMap<string, string>;

const isFlag = (source: string | undefined): boolean => source === undefined || source.startsWith('-');

/**
 * `text` with each option key said as its flag; a key a config file set, as the file wrote it
 * (PM2's `listen_timeout` for startTimeout).
 */
export function flagWords(text: string, sources: Sources): string {
  let said = text;
  for (const [key, flag] of FLAGS) {
    const source = sources.get(key);
    if (!isFlag(source)) {
      const written = source!.slice(source!.lastIndexOf(': ') + 2);
      if (source!.includes(': ') && written !== key && /[A-Z]/.test(key)) said = said.replace(new RegExp(`(?<![\\w.-])${key}(?!\\w)`, 'g'), written);
      continue;
    }
    // `balancer: 'sticky'`, `name: "api"` (an object literal's words): the flag and its value.
    said = said.replace(new RegExp(`\\b${key}: (['"])([^'"]*)\\1`, 'g'), `${flag} $2`).replaceAll(`\`${key}\``, flag);
    // A key of one word (name, workers, balancer) is an English word too: only in the forms above.
    if (/[A-Z]/.test(key)) said = said.replace(new RegExp(`(?<![\\w.-])${key}(?!\\w)`, 'g'), flag);
  }
  return said;
}

/**
 * An option's error (InvalidOptionError: "Expected `workers` to be …") as the CLI says it, after
 * `corral: `: "--instances must be …, got 'lots'", "corral.config.mjs: crashLoop.maxCrashes must
 * be …".
 */
export function optionErrorText(message: string, option: string, sources: Sources): string {
  const top = option.split('.')[0]!;
  const source = sources.get(top);
  const lead = `Expected \`${option}\` to be `;
  if (source === undefined || !message.startsWith(lead)) return `${source === undefined ? '' : `${source}: `}${flagWords(message, sources)}`;
  // A config file's nested key is named whole (crashLoop.maxCrashes); a flag names itself.
  const subject = isFlag(source) ? source : `${source}${option.slice(top.length)}`;
  return `${subject} must be ${flagWords(message.slice(lead.length), sources)}`;
}
