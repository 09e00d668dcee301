// Runs test/fixtures/primary.js as a separate primary process, with a TCP server its workers
// connect to: a worker's connection closing is how the test sees that worker die.
import { fork, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { fileURLToPath } from 'node:url';

const PRIMARY_FIXTURE = fileURLToPath(new URL('../fixtures/primary.js', import.meta.url));

export interface PrimaryProcess {
  readonly child: ChildProcess;
  workersConnected(count: number, timeout?: number): Promise<void>;
  workersGone(timeout?: number): Promise<void>;
  dispose(): Promise<void>;
}

export function runPrimary(env: Record<string, string>): PrimaryProcess {
  const sockets = new Set<net.Socket>();
  let changed = (): void => {};
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    socket.on('close', () => { sockets.delete(socket); changed(); });
    changed();
  });
  const listening = new Promise<number>((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as net.AddressInfo).port)));
  let child: ChildProcess | undefined;
  const started = listening.then((port) => {
    child = fork(PRIMARY_FIXTURE, [], { env: { ...process.env, ...env, TARGET_PORT: String(port) }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    return child;
  });
  let everConnected = 0;
  const waitFor = (check: () => boolean, what: string, timeout: number): Promise<void> => new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), timeout);
    changed = () => {
      everConnected = Math.max(everConnected, sockets.size);
      if (check()) { clearTimeout(timer); resolve(); }
    };
    changed();
  });
  const handle: PrimaryProcess = {
    get child(): ChildProcess {
      if (child === undefined) throw new Error('primary not started yet');
      return child;
    },
    async workersConnected(count, timeout = 15_000) {
      await started;
      await waitFor(() => sockets.size >= count, `${count} workers to connect`, timeout);
    },
    async workersGone(timeout = 15_000) {
      await waitFor(() => everConnected > 0 && sockets.size === 0, 'every worker to exit', timeout);
    },
    async dispose() {
      const running = await started;
      if (running.exitCode === null && running.signalCode === null) running.kill('SIGKILL');
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return handle;
}
