// The seed's hello-world server under the primary named by IMPL: 'node:cluster' or 'corral' with
// POLICY 'rr' or 'none' (the node:cluster API; 'node:cluster' also 'reuseport': each worker
// listens itself with `reusePort: true`), or 'corral-managed' with POLICY a balancer name
// (createCluster(), whose workers run corral's runtime: least-connections needs it), or 'plain':
// one process, no cluster (the nginx peers' upstreams). WORKERS workers (default 2). `/slow`
// burns 50 ms of CPU first (the skewed workload). Tells its parent 'ready' once every worker
// listens, and answers 'split' with each worker's request count.
import nodeCluster from 'node:cluster';
import http from 'node:http';
import { fileURLToPath } from 'node:url';
import corral, { createCluster, type BalancerName, type Cluster, type Worker } from 'corral';

const impl = process.env['IMPL'];
const cluster = (impl === 'node:cluster' ? nodeCluster : corral) as unknown as Cluster;
const port = Number(process.env['PORT']);
const workerCount = Number(process.env['WORKERS'] ?? 2);

/** Answers the parent's 'split' with each worker's request count (asked over IPC). */
function answerSplits(workers: readonly Worker[]): void {
  process.on('message', (message: { type: string }) => {
    if (message.type !== 'split') return;
    const counts: number[] = [];
    for (const worker of workers) {
      worker.once('message', (count: unknown) => {
        counts.push(Number(count));
        if (counts.length === workers.length) process.send!({ type: 'split', counts });
      });
      worker.send('count');
    }
  });
}

function serve(onListening?: () => void): void {
  let requests = 0;
  const server = http.createServer((req, res) => {
    requests += 1;
    if (req.url === '/slow') {
      const until = performance.now() + 50;
      while (performance.now() < until); // The skewed workload: 1 request in 20 burns 50 ms of CPU.
    }
    res.writeHead(200);
    res.end('hello world\n');
  });
  if (impl === 'node:cluster' && process.env['POLICY'] === 'reuseport') {
    // Each worker binds its own socket (reusePort makes the listen exclusive); node:cluster's
    // primary then sees no 'listening', so the worker says it.
    server.listen({ port, reusePort: true }, () => process.send!({ type: 'listening' }));
  } else {
    server.listen(port, onListening);
  }
  process.on('message', () => process.send!(requests));
}

if (impl === 'plain') {
  serve(() => process.send!({ type: 'ready' }));
} else if (cluster.isPrimary && impl === 'corral-managed') {
  const stickyHeader = process.env['STICKY_HEADER'];
  const managed = createCluster({
    exec: fileURLToPath(import.meta.url), workers: workerCount, balancer: process.env['POLICY'] as BalancerName,
    ...(stickyHeader === undefined ? {} : { stickyHeader }),
  });
  const workers: Worker[] = [];
  managed.on('online', (worker) => workers.push(worker));
  await managed.start();
  process.send!({ type: 'ready' });
  answerSplits(workers);
} else if (cluster.isPrimary) {
  cluster.schedulingPolicy = process.env['POLICY'] === 'rr' ? cluster.SCHED_RR : cluster.SCHED_NONE;
  const workers: Worker[] = Array.from({ length: workerCount }, () => cluster.fork());
  let listening = 0;
  const counted = (): void => {
    if (++listening === workers.length) process.send!({ type: 'ready' });
  };
  cluster.on('listening', counted);
  cluster.on('message', (_worker, message: unknown) => {
    if ((message as { type?: string } | null)?.type === 'listening') counted();
  });
  answerSplits(workers);
} else {
  serve();
}
