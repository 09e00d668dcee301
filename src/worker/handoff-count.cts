/**
 * The connections the primary handed to this worker, counted for the least-connections balancer
 * (RuntimeReport.handoffs): received, and how many of those have closed. A connection a server
 * accepted itself (an exclusive server, a lent socket) is not counted: the primary did not send
 * it, and counts only what it sent.
 *
 * Per connection this costs one WeakSet lookup and one 'close' listener, and only when the
 * primary asked for it; each close calls `onClose`, which reports early (reporter.cts).
 */
import dc = require('node:diagnostics_channel');
import type net = require('node:net');
import internals = require('./node-internals.cjs');

class HandoffCount {
  received = 0;
  closed = 0;
  readonly #handedOver = new WeakSet<object>();

  constructor(onClose: () => void) {
    internals.onHandoff((handle) => this.#handedOver.add(handle));
    dc.subscribe('net.server.socket', (message) => {
      const { socket } = message as { socket: net.Socket };
      const handle = internals.socketHandle(socket);
      if (typeof handle !== 'object' || handle === null || !this.#handedOver.has(handle)) return;
      this.received += 1;
      socket.once('close', () => {
        this.closed += 1;
        onClose();
      });
    });
  }
}

export = HandoffCount;
