/**
 * systemd socket activation (sd_listen_fds(3)): systemd binds the service's sockets itself and
 * starts the service with them as descriptors 3, 4, … and `LISTEN_PID` (the pid they are for),
 * `LISTEN_FDS` (how many) and `LISTEN_FDNAMES` (their names, colon-separated). corral's primary
 * keeps them open for its whole life, so that workers listening on them with
 * `listen({ fd: 3 })` can come and go (restarts, reloads) without the socket ever closing:
 * connections wait in its queue meanwhile instead of being refused.
 */
import { InvalidOptionError } from '../errors.js';

/** The first descriptor systemd passes (SD_LISTEN_FDS_START). */
export const SD_LISTEN_FDS_START = 3;

export interface ActivatedSocket {
  readonly fd: number;
  /** From LISTEN_FDNAMES (`FileDescriptorName=` in the .socket unit); systemd's default is the unit name. */
  readonly name: string | undefined;
}

/** The sockets systemd passed to this process, or none when LISTEN_PID names another process. */
export function socketsFromSystemd(env: NodeJS.ProcessEnv = process.env, pid: number = process.pid): ActivatedSocket[] {
  const listenPid = env['LISTEN_PID'];
  const listenFds = env['LISTEN_FDS'];
  if (listenPid === undefined || listenFds === undefined) return [];
  // The variables are inherited by children that are not the target: those must ignore them.
  if (listenPid.trim() !== String(pid)) return [];
  const count = Number(listenFds);
  if (!/^\s*\d+\s*$/.test(listenFds) || count < 1 || count > 1024) {
    throw new InvalidOptionError('LISTEN_FDS', 'a whole number from 1 to 1024 (set by systemd socket activation)', listenFds,
      'Start the service from a .socket unit, or unset LISTEN_PID and LISTEN_FDS.');
  }
  const names = env['LISTEN_FDNAMES']?.split(':') ?? [];
  return Array.from({ length: count }, (_, i) => ({ fd: SD_LISTEN_FDS_START + i, name: names[i] || undefined }));
}
