// The seed's hello-world server with 2 workers, under the primary named by IMPL: 'node:cluster'
// or 'corral' with POLICY 'rr' or 'none' (the node:cluster API), or 'corral-managed' with POLICY a
// balancer name (createCluster(), whose workers run corral's runtime: least-connections needs it).
// Tells its parent 'ready' once both workers listen, and answers 'split' with each worker's
// request count.
import nodeCluster from 'node:cluster';
import http from 'node:http';
import { fileURLToPath } from 'node:url';
import corral, { createCluster, type BalancerName, type Cluster, type Worker } from 'corral';

const impl = process.env['IMPL'];
const cluster = (impl === 'node:cluster' ? nodeCluster : corral) as unknown as Cluster;
const port = Number(process.env['PORT']);

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

if (cluster.isPrimary && impl === 'corral-managed') {
  const managed = createCluster({ exec: fileURLToPath(import.meta.url), workers: 2, balancer: process.env['POLICY'] as BalancerName });
  const workers: Worker[] = [];
  managed.on('online', (worker) => workers.push(worker));
  await managed.start();
  process.send!({ type: 'ready' });
  answerSplits(workers);
} else if (cluster.isPrimary) {
  cluster.schedulingPolicy = process.env['POLICY'] === 'none' ? cluster.SCHED_NONE : cluster.SCHED_RR;
  const workers: Worker[] = [cluster.fork(), cluster.fork()];
  let listening = 0;
  cluster.on('listening', () => {
    if (++listening === workers.length) process.send!({ type: 'ready' });
  });
  answerSplits(workers);
} else {
  let requests = 0;
  http.createServer((_req, res) => {
    requests += 1;
    res.writeHead(200);
    res.end('hello world\n');
  }).listen(port);
  process.on('message', () => process.send!(requests));
}
