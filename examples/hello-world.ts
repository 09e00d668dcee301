// The seed's hello-world cluster (seed 2, "test.js"): one worker per CPU, all serving port 8000.
// Ported from node:cluster by changing only the import. PORT overrides 8000 (tests use it).
import cluster from 'corral';
import http from 'node:http';
import os from 'node:os';

const numCPUs = os.cpus().length;
const port = Number(process.env['PORT'] ?? 8000);

if (cluster.isMaster) {
  console.log('Master process id is', process.pid);
  // fork workers
  for (let i = 0; i < numCPUs; i++) {
    cluster.fork();
  }
  cluster.on('exit', (worker) => {
    console.log('worker process died id ', worker.process.pid);
  });
} else {
  // workers share one TCP port; here an HTTP server
  http.createServer((_req, res) => {
    res.writeHead(200);
    res.end('hello world\n');
  }).listen(port);
  console.log('Worker started, process id', process.pid);
}
