// The seed's hello-world server with 2 workers, under the primary named by IMPL
// ('node:cluster' or 'corral') and POLICY ('rr' or 'none'). Tells its parent 'ready' once both
// workers listen, and answers 'split' with each worker's request count.
import nodeCluster from 'node:cluster';
import http from 'node:http';
import corral, { type Cluster, type Worker } from 'corral';

const cluster = (process.env['IMPL'] === 'node:cluster' ? nodeCluster : corral) as unknown as Cluster;
const port = Number(process.env['PORT']);

if (cluster.isPrimary) {
  cluster.schedulingPolicy = process.env['POLICY'] === 'none' ? cluster.SCHED_NONE : cluster.SCHED_RR;
  const workers: Worker[] = [cluster.fork(), cluster.fork()];
  let listening = 0;
  cluster.on('listening', () => {
    if (++listening === workers.length) process.send!({ type: 'ready' });
  });
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
} else {
  let requests = 0;
  http.createServer((_req, res) => {
    requests += 1;
    res.writeHead(200);
    res.end('hello world\n');
  }).listen(port);
  process.on('message', () => process.send!(requests));
}
