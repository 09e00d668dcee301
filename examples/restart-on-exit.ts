// The seed's supervisor (seed 1): logs 'online' and 'exit' and forks a replacement for every
// worker that dies. Ported from node:cluster by changing only the import. As in the seed, the
// workers do nothing but stay connected to the primary.
import cluster from 'corral';
import os from 'node:os';

if (cluster.isMaster) {
  const numWorkers = os.cpus().length;
  console.log('Master cluster setting up ' + numWorkers + ' workers...');

  for (let i = 0; i < numWorkers; i++) {
    cluster.fork();
  }

  cluster.on('online', (worker) => {
    console.log('Worker ' + worker.process.pid + ' is online');
  });

  cluster.on('exit', (worker, code, signal) => {
    console.log('Worker ' + worker.process.pid + ' died with code: ' + code + ', and signal: ' + signal);
    console.log('Starting a new worker');
    cluster.fork();
  });
}
