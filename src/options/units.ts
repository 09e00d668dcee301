/**
 * Sizes and durations as people write them in flags and config files: `200M`, `1.5G`, `512K`,
 * `6h`, `30m`. Sizes are binary (K = 1024 bytes, M = 1024², G = 1024³), as PM2's
 * `max_memory_restart` and most process managers read them; `MB`, `MiB` and `M` mean the same.
 */
import { InvalidOptionError } from '../errors.js';
import { MAX_TIMEOUT } from '../util/validators.js';

const SIZE = /^(\d+(?:\.\d+)?)\s*(?:([kmgt])(?:i?b)?|b)?$/i;
const SIZE_UNITS: Readonly<Record<string, number>> = { k: 2 ** 10, m: 2 ** 20, g: 2 ** 30, t: 2 ** 40 };

/** A size in bytes (0: off), from a number of bytes or text such as `200M`; `undefined` gives `fallback`. */
export function size(value: unknown, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return value;
  if (typeof value === 'string') {
    const match = SIZE.exec(value.trim());
    if (match !== null) {
      const bytes = Math.round(Number(match[1]) * (match[2] === undefined ? 1 : SIZE_UNITS[match[2].toLowerCase()]!));
      if (Number.isSafeInteger(bytes)) return bytes;
    }
  }
  throw new InvalidOptionError(name, 'a size such as 200M, 1.5G or 512K (binary: M = 1024 × 1024 bytes), or a whole number of bytes; 0: off', value);
}

const DURATION = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?$/i;
const DURATION_UNITS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** A duration in ms, from a number of ms or text such as `90s`, `30m`, `6h`; `undefined` gives `fallback`. */
export function duration(value: unknown, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  let ms: number | undefined;
  if (typeof value === 'number' && Number.isFinite(value) && value >= 0) ms = value;
  else if (typeof value === 'string') {
    const match = DURATION.exec(value.trim());
    if (match !== null) ms = Math.round(Number(match[1]) * DURATION_UNITS[(match[2] ?? 'ms').toLowerCase()]!);
  }
  if (ms === undefined) {
    throw new InvalidOptionError(name, 'a duration in ms, or text such as 90s, 30m, 6h or 1d; 0: off', value);
  }
  if (ms > MAX_TIMEOUT) {
    throw new InvalidOptionError(name, `at most ${MAX_TIMEOUT} ms (about 24.8 days, the longest a Node timer can wait)`, value);
  }
  return ms;
}

/** `157286400` → `150 MiB`: how corral's messages show a size. */
export function formatSize(bytes: number): string {
  if (bytes >= 2 ** 30) return `${round(bytes / 2 ** 30)} GiB`;
  if (bytes >= 2 ** 20) return `${round(bytes / 2 ** 20)} MiB`;
  if (bytes >= 2 ** 10) return `${round(bytes / 2 ** 10)} KiB`;
  return `${bytes} bytes`;
}

/** `93000` → `1m33s`: how corral shows a duration (an uptime, an age). */
export function formatDuration(ms: number): string {
  const seconds = Math.floor(ms / 1000);
  if (seconds < 60) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes}m${String(seconds % 60).padStart(2, '0')}s`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${hours}h${String(minutes % 60).padStart(2, '0')}m`;
  return `${Math.floor(hours / 24)}d${String(hours % 24).padStart(2, '0')}h`;
}

const round = (value: number): string => (Number.isInteger(value) ? String(value) : value.toFixed(1));
