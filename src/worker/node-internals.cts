/**
 * The worker runtime's only use of an undocumented Node surface: the `'internalMessage'` event of
 * `process`, on which Node delivers IPC messages whose `cmd` starts with `NODE_`. corral's
 * control frames use that prefix so that they never reach the app's `process.on('message')`
 * listeners (Node's own cluster worker half receives its `NODE_CLUSTER` frames the same way).
 * Sending is plain `process.send()`; Node's routing of the `NODE_` prefix is what keeps the frame
 * internal on the primary's side too.
 *
 * Covered by the worker-runtime tests on every supported Node line.
 */
import protocol = require('./runtime-protocol.cjs');

type Frame = Readonly<Record<string, unknown>>;

function isCorralFrame(message: unknown): message is Frame {
  return typeof message === 'object' && message !== null &&
    (message as Frame)['cmd'] === protocol.FRAME_CMD && (message as Frame)['v'] === protocol.VERSION;
}

const internals = {
  /** Calls `listener` for each corral frame of this protocol version the primary sends. */
  onCorralFrame(listener: (frame: Frame) => void): void {
    process.on('internalMessage' as 'message', (message: unknown) => {
      if (isCorralFrame(message)) listener(message);
    });
  },

  /** Sends a frame to the primary; false when there is no channel (the worker runs alone). */
  sendCorralFrame(frame: protocol.FromWorker): boolean {
    if (typeof process.send !== 'function' || !process.connected) return false;
    // A failed write means the primary is gone; the worker's own 'disconnect' handling follows.
    return process.send({ cmd: protocol.FRAME_CMD, v: protocol.VERSION, ...frame }, undefined, {}, () => {});
  },
};

export = internals;
