// The seed's eachWorker() broadcast (seed 1, section 1.3): the primary sends one message to every
// worker in cluster.workers. Ported from node:cluster by changing only the import. The workers
// serve the seed's hello-world HTTP server; the announcement goes out once all of them listen,
// so every worker's 'message' listener is in place (ES-module workers load asynchronously).
import cluster from 'corral';
import type { Worker } from 'corral';
import http from 'node:http';
import os from 'node:os';

const port = Number(process.env['PORT'] ?? 8000);

function eachWorker(callback: (worker: Worker) => void): void {
  for (const id in cluster.workers) {
    callback(cluster.workers[id]!);
  }
}

if (cluster.isMaster) {
  const numWorkers = os.cpus().length;
  let listening = 0;
  for (let i = 0; i < numWorkers; i++) {
    cluster.fork();
  }
  cluster.on('listening', () => {
    if (++listening === numWorkers) {
      eachWorker((worker) => {
        worker.send('big announcement to all workers');
      });
    }
  });
  cluster.on('message', (worker, message) => {
    console.log('Worker ' + worker.id + ' replied: ' + String(message));
  });
} else {
  process.on('message', (message) => {
    console.log('Worker ' + cluster.worker!.id + ' received: ' + String(message));
    process.send!('got it');
  });
  http.createServer((_req, res) => {
    res.writeHead(200);
    res.end('hello world\n');
  }).listen(port);
}
