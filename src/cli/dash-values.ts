/**
 * util.parseArgs reads any argument that starts with a dash as a flag, so `--shutdown-timeout -1`
 * was "ambiguous" and `-n -5` a missing value: the user never heard what was wrong with the value.
 * Such values are joined to their flag (`--shutdown-timeout=-1`) before parsing, for the flag's
 * own check to accept or refuse with its message. No corral flag is a digit, so `-1` is never
 * meant as one; a flag's `dashValue` admits other dash-led values (`--node-args --inspect`).
 */

export interface ValueFlag {
  /** The long name, without the dashes. */
  readonly name: string;
  readonly short?: string;
  /** Values starting with a dash that still belong to the flag, besides negative numbers. */
  readonly dashValue?: RegExp;
}

/** `-1`, `-0.5`, `-5s`, `-200M`: a negative number, maybe with its unit. */
const NEGATIVE_NUMBER = /^-\d/;

/** `argv` with each dash-led value of a flag in `flags` joined to it; what follows `--` is left alone. */
export function joinDashValues(argv: readonly string[], flags: readonly ValueFlag[]): string[] {
  const out: string[] = [];
  for (let index = 0; index < argv.length; index += 1) {
    const arg = argv[index]!;
    const next = argv[index + 1];
    if (arg === '--') {
      out.push(...argv.slice(index));
      break;
    }
    const flag = flags.find((candidate) => arg === `--${candidate.name}` || (candidate.short !== undefined && arg === `-${candidate.short}`));
    if (flag !== undefined && next !== undefined && (NEGATIVE_NUMBER.test(next) || flag.dashValue?.test(next) === true)) {
      out.push(`--${flag.name}=${next}`);
      index += 1;
    } else {
      out.push(arg);
    }
  }
  return out;
}
