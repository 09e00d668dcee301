/**
 * maxMessageSize inside a worker. One `process.send()` of a huge value (a whole cache, a log
 * buffer) would make the primary hold it several times over while it reads and parses it: 500 MB
 * sent grew the primary by 1.56 GB. The message is measured as Node serializes it
 * (node-internals.cts) and refused in the worker before any byte leaves it; the primary is told
 * (it warns, grouped) and the app's send fails with a clear error:
 *  - to its callback, as any failed send does, with code CORRAL_ERR_MESSAGE_TOO_LARGE;
 *  - without a callback, the message is dropped and the worker goes on: Node would emit 'error' on
 *    `process` and, with nobody listening, end the worker for a message it could simply not send.
 * Every other send, and every other send error, behaves exactly as without corral.
 */
import internals = require('./node-internals.cjs');

type SendCallback = (error: Error | null) => void;
type Send = (message: unknown, handle?: unknown, options?: unknown, callback?: SendCallback) => boolean;

const MIB = 1024 * 1024;

function size(bytes: number): string {
  return bytes >= MIB ? `${(bytes / MIB).toFixed(1)} MiB` : `${bytes} bytes`;
}

/** The error a refused send reports. */
function tooLarge(bytes: number, limit: number): Error {
  return Object.assign(new Error(
    `corral refused to send a message of ${size(bytes)}: it is over maxMessageSize (${size(limit)}), which keeps the ` +
    "primary's memory bounded. Send less (an id, a path to a file, a key in a shared store), or raise maxMessageSize " +
    '(createCluster({ maxMessageSize }), or the config file) if the primary can afford it.'), {
    code: 'CORRAL_ERR_MESSAGE_TOO_LARGE', bytes, limit,
  });
}

/** Applies `limit` (bytes, > 0) to this worker's messages; `onRefused` tells the primary. */
function limitMessages(limit: number, onRefused: (bytes: number) => void): void {
  // Node's send() is this process's own, so binding it to `process` changes nothing.
  const original = process.send?.bind(process) as Send | undefined;
  if (original === undefined) return;
  // Sizes of refused writes, oldest first: Node reports each failure on a later tick, in order.
  const refused: number[] = [];
  if (!internals.limitOutgoingMessages(limit, (bytes) => refused.push(bytes))) return;

  process.send = function send(message: unknown, handle?: unknown, options?: unknown, callback?: unknown): boolean {
    // The same argument forms as Node's own send(): the callback is the first function after the message.
    if (typeof handle === 'function') [callback, handle, options] = [handle, undefined, undefined];
    else if (typeof options === 'function') [callback, options] = [options, undefined];
    const appCallback = typeof callback === 'function' ? callback as SendCallback : undefined;
    return original(message, handle, options, (error: Error | null) => {
      if (error !== null && (error as NodeJS.ErrnoException).code === 'EMSGSIZE' && refused.length > 0) {
        const bytes = refused.shift()!;
        onRefused(bytes);
        if (appCallback !== undefined) appCallback(tooLarge(bytes, limit));
        return;
      }
      if (appCallback !== undefined) appCallback(error);
      // What Node itself does with a failed send that has no callback.
      else if (error !== null) process.emit('error' as 'warning', error);
    });
  } as typeof process.send;
}

export = limitMessages;
