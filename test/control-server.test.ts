// The control socket's connection bound (MAX_CONNECTIONS), in one process: a client that closed
// its connections is counted out before a new one is judged, so a new client is not told the
// socket is busy by connections that are already gone.
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { controlServer } from './helpers/internals.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'corral-control-server-'));
chmodSync(dir, 0o700);
process.env['CORRAL_RUN_DIR'] = dir;
after(() => rmSync(dir, { recursive: true, force: true }));

type Handlers = Parameters<typeof controlServer.ControlServer.open>[2];
/** Every command answers at once. */
const handlers = new Proxy({}, { get: () => () => Promise.resolve({ fine: true }) }) as Handlers;

const connect = (socketPath: string): Promise<net.Socket> => new Promise((resolve, reject) => {
  const socket = net.connect(socketPath, () => resolve(socket));
  socket.once('error', reject);
});

/** Sends a status request; resolves with the first reply line. */
function ask(socket: net.Socket): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    socket.setEncoding('utf8').on('data', (chunk: string) => {
      text += chunk;
      if (text.includes('\n')) resolve(text.slice(0, text.indexOf('\n')));
    });
    socket.on('close', () => reject(new Error(`closed before a whole reply: ${text}`)));
    socket.on('error', () => {}); // A refused connection may be closed before the write.
    socket.write('{"v":1,"id":1,"command":"status"}\n');
  });
}

describe('the control socket\'s connection bound', () => {
  test(`${controlServer.MAX_CONNECTIONS} clients that closed their connections do not make the next one busy, 25 rounds`, { timeout: 60_000 }, async () => {
    const socketPath = path.join(dir, 'bound.sock');
    const server = await controlServer.ControlServer.open(socketPath, 'bound', handlers);
    try {
      for (let round = 0; round < 25; round++) {
        const held = await Promise.all(Array.from({ length: controlServer.MAX_CONNECTIONS }, () => connect(socketPath)));
        // Each is served (so counted in) before they all go.
        for (const reply of await Promise.all(held.map(ask))) assert.match(reply, /"ok":true/);
        for (const socket of held) socket.destroy();
        const next = await connect(socketPath);
        assert.match(await ask(next), /"ok":true/, `round ${round}`);
        next.destroy();
      }
      // The bound itself still holds: one over it is refused, saying so.
      const held = await Promise.all(Array.from({ length: controlServer.MAX_CONNECTIONS }, () => connect(socketPath)));
      for (const reply of await Promise.all(held.map(ask))) assert.match(reply, /"ok":true/);
      const over = await connect(socketPath);
      assert.match(await ask(over), /"code":"CORRAL_ERR_BUSY".*at most 32 connections/);
      for (const socket of [...held, over]) socket.destroy();
    } finally {
      await server.close();
    }
  });
});
