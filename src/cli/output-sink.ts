/**
 * The primary's own stdout and stderr, kept usable when their readers go away. A log sink can
 * vanish under a running app (journald restarts, a container's log pipe closes, `corral start
 * … | head` exits): writes then fail with EPIPE, and an unhandled stream error would end the
 * primary and every worker with it. Here a stream that fails is marked lost, what was meant for
 * it goes to the other one (said once, there), and when both are gone output is dropped: the app
 * keeps serving either way.
 *
 * `write()` returns false while a stream's buffer is full, and `whenWritable()` says when it has
 * room again, so that worker output passing through the primary (--log-prefix) can be paused
 * instead of piling up in its memory.
 */
import type { Writable } from 'node:stream';

/** What the CLI writes to: the app's stdout-bound output, and corral's own messages. */
export interface CliOutput {
  /** Writes to stdout; false while its buffer is full (see whenWritable). */
  out(text: string): boolean;
  /** Writes to stderr; false while its buffer is full. */
  err(text: string): boolean;
  /** Calls `callback` once both streams can take more (at once if they can now). */
  whenWritable(callback: () => void): void;
  /** Resolves once everything written so far has been handed to the system (or was lost). */
  flush(): Promise<void>;
}

interface Channel {
  readonly name: 'stdout' | 'stderr';
  readonly stream: Writable;
  lost: boolean;
}

export class ProcessOutput implements CliOutput {
  readonly #out: Channel;
  readonly #err: Channel;

  constructor(stdout: Writable, stderr: Writable) {
    this.#out = { name: 'stdout', stream: stdout, lost: false };
    this.#err = { name: 'stderr', stream: stderr, lost: false };
    for (const [channel, other] of [[this.#out, this.#err], [this.#err, this.#out]] as const) {
      channel.stream.on('error', (error: NodeJS.ErrnoException) => this.#lose(channel, other, error));
    }
  }

  out(text: string): boolean {
    return this.#write(this.#out, this.#err, text);
  }

  err(text: string): boolean {
    return this.#write(this.#err, this.#out, text);
  }

  whenWritable(callback: () => void): void {
    const full = [this.#out, this.#err].find((channel) => !channel.lost && channel.stream.writableNeedDrain);
    if (full === undefined) {
      callback();
      return;
    }
    const again = (): void => {
      full.stream.off('drain', again);
      full.stream.off('error', again);
      this.whenWritable(callback);
    };
    full.stream.on('drain', again);
    full.stream.on('error', again);
  }

  async flush(): Promise<void> {
    await Promise.all([this.#out, this.#err].map((channel) => new Promise<void>((resolve) => {
      if (channel.lost) resolve();
      else channel.stream.write('', () => resolve());
    })));
  }

  #write(channel: Channel, other: Channel, text: string): boolean {
    const target = channel.lost ? other : channel;
    if (target.lost) return true; // Both sinks are gone: nothing can be kept, and nothing waits.
    return target.stream.write(text);
  }

  #lose(channel: Channel, other: Channel, error: NodeJS.ErrnoException): void {
    if (channel.lost) return;
    channel.lost = true;
    if (!other.lost) {
      other.stream.write(`${new Date().toISOString()} corral WARN ${channel.name} closed (${error.code ?? error.message}); ` +
        `from now on what went to ${channel.name} goes to ${other.name}\n`);
    }
  }
}
