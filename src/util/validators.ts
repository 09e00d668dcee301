/**
 * The checks every option and setting goes through: createCluster()'s options (table.ts), the
 * config file and flags (the same table), and node:cluster's `settings` (primary/settings.ts).
 * Each takes the raw value and the name to blame, and throws InvalidOptionError naming the name,
 * the bad value and what is allowed.
 */
import { InvalidOptionError } from '../errors.js';

/** The longest delay a Node timer can wait; longer ones fire after 1 ms instead. */
export const MAX_TIMEOUT = 2 ** 31 - 1;

export const isStringArray = (value: unknown): value is string[] =>
  Array.isArray(value) && value.every((item) => typeof item === 'string');

export const isPositiveInteger = (value: unknown): value is number => Number.isInteger(value) && (value as number) >= 1;

export const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

export function positiveInteger(value: unknown, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (isPositiveInteger(value)) return value;
  throw new InvalidOptionError(name, 'a whole number ≥ 1', value);
}

export function nonNegativeNumber(value: unknown, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value === 'number' && Number.isFinite(value) && value >= 0) return value;
  throw new InvalidOptionError(name, 'a finite number ≥ 0', value);
}

/** A delay in ms that a timer can really wait (longer ones are refused, not cut to 1 ms). */
export function timeout(value: unknown, name: string, fallback: number): number {
  const delay = nonNegativeNumber(value, name, fallback);
  if (delay > MAX_TIMEOUT) {
    throw new InvalidOptionError(name, `at most ${MAX_TIMEOUT} ms (about 24.8 days, the longest a Node timer can wait)`, value);
  }
  return delay;
}

export function stringArray(value: unknown, name: string, fallback: readonly string[]): readonly string[] {
  if (value === undefined) return [...fallback];
  if (isStringArray(value)) return [...value];
  throw new InvalidOptionError(name, 'an array of strings', value);
}

export function boolean(value: unknown, name: string, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value === 'boolean') return value;
  throw new InvalidOptionError(name, 'a boolean', value);
}

export function oneOf<T extends string>(value: unknown, name: string, allowed: readonly T[], fallback: T): T {
  if (value === undefined) return fallback;
  if ((allowed as readonly unknown[]).includes(value)) return value as T;
  throw new InvalidOptionError(name, `one of ${allowed.map((item) => `'${item}'`).join(', ')}`, value);
}

/** An option that is an object of its own (restart, crashLoop): an object, with only known keys. */
export function nestedOptions(value: unknown, name: string, defaults: object, expected: string): Record<string, unknown> {
  if (!isPlainObject(value)) throw new InvalidOptionError(name, expected, value);
  for (const key of Object.keys(value)) {
    if (!Object.hasOwn(defaults, key)) {
      throw new InvalidOptionError(`${name}.${key}`, `one of ${Object.keys(defaults).join(', ')}`, value[key]);
    }
  }
  return value;
}
