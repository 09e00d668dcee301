/**
 * Gives back the bytes the primary read of a connection before handing it over (the sticky
 * balancer reads a request's head to find its header; RuntimeSettings.replayHeads). The
 * `newconn` frame carries them, base64, in `head`; once Node's worker half has made a socket of
 * the handle and the server's 'connection' listeners have run, they are put back in front of
 * the socket's stream (`socket.unshift`), so the app's HTTP server parses them before anything
 * read from the kernel after them. Costs nothing per connection without a `head`.
 */
import dc = require('node:diagnostics_channel');
import type net = require('node:net');
import internals = require('./node-internals.cjs');

function replayHeads(): void {
  const heads = new WeakMap<object, Buffer>();
  internals.onHandoff((handle, frame) => {
    const head = frame['head'];
    if (typeof head === 'string' && head !== '') heads.set(handle, Buffer.from(head, 'base64'));
  });
  // Published right after the server's 'connection' event: the HTTP server is listening to the socket by then.
  dc.subscribe('net.server.socket', (message) => {
    const { socket } = message as { socket: net.Socket };
    const handle = internals.socketHandle(socket);
    if (typeof handle !== 'object' || handle === null) return;
    const head = heads.get(handle);
    if (head === undefined) return;
    heads.delete(handle);
    socket.unshift(head);
  });
}

export = replayHeads;
