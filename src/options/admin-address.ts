/**
 * The admin server's address, `[host:]port`: `9100` (loopback), `0.0.0.0:9100`, `[::1]:9100`,
 * `localhost:9100`. Loopback by default, as the metrics and the dashboard describe the app's
 * processes to whoever can reach them; a host is given to expose them on purpose.
 */
import { InvalidOptionError } from '../errors.js';

export interface AdminAddress {
  host: string;
  /** 0: any free port (the server's URL says which). */
  port: number;
}

export const ADMIN_DEFAULT_HOST = '127.0.0.1';

const EXPECTED = "a port (9100: loopback) or 'host:port' ('0.0.0.0:9100', '[::1]:9100')";

function port(text: string, value: unknown): number {
  const number = /^\d{1,5}$/.test(text) ? Number(text) : NaN;
  if (!Number.isInteger(number) || number > 65_535) {
    throw new InvalidOptionError('admin', EXPECTED, value, 'A port is a whole number from 0 to 65535 (0: any free port).');
  }
  return number;
}

export function parseAdminAddress(value: unknown): AdminAddress | undefined {
  if (value === undefined || value === false || value === null) return undefined;
  if (typeof value === 'number') return { host: ADMIN_DEFAULT_HOST, port: port(String(value), value) };
  if (typeof value !== 'string') throw new InvalidOptionError('admin', EXPECTED, value);
  const text = value.trim();
  if (/^\d+$/.test(text)) return { host: ADMIN_DEFAULT_HOST, port: port(text, value) };
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^\s:[\]/]+)):(\d+)$/.exec(text);
  if (match === null) {
    throw new InvalidOptionError('admin', EXPECTED, value,
      text.startsWith(':') ? `Name the host: '127.0.0.1${text}' for this machine only, '0.0.0.0${text}' for every interface.` : undefined);
  }
  return { host: match[1] ?? match[2]!, port: port(match[3]!, value) };
}
