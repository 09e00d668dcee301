/**
 * Writes a file whole, with exactly the mode asked for, through a new file in the same directory
 * renamed over it. The new file is created with O_EXCL and O_NOFOLLOW, so it is never an existing
 * file or a link planted at its name (in a directory others may write to, that would hand them
 * the text or let them point it elsewhere), and it never has more than `mode` (the umask can only
 * take bits away; fchmod then sets exactly `mode`, to be independent of the umask). The rename
 * replaces what was at `file`, a link included, without following it, and readers see the old
 * file or the new one, never part of it. The file belongs to the user running this.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, constants, fchmodSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import path from 'node:path';

export function replaceFile(file: string, text: string, mode: number): void {
  const temporary = path.join(path.dirname(file), `.${path.basename(file)}.${randomBytes(6).toString('hex')}.tmp`);
  const fd = openSync(temporary, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, mode);
  try {
    try {
      fchmodSync(fd, mode);
      const bytes = Buffer.from(text);
      for (let written = 0; written < bytes.length;) written += writeSync(fd, bytes, written);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temporary, file);
  } catch (error) {
    rmSync(temporary, { force: true });
    throw error;
  }
}
