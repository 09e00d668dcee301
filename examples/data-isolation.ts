// The seed's data-isolation demo (seed 2): each process has its own memory, so a variable set in
// the primary is still 0 in every worker. Ported from node:cluster by changing only the import.
import cluster from 'corral';
import os from 'node:os';

let data = 0; // not shared: every process has its own copy
if (cluster.isMaster) { // primary
  const numCPUs = os.cpus().length;
  for (let i = 0; i < numCPUs; i++) {
    cluster.fork();
  }
  data = 5;
  console.log('DATA VALUE in MainProcess: %d ', data);
} else { // worker, run numCPUs times
  // data++;
  console.log('DATA VALUE in ChildProcess %d: %d ', cluster.worker!.id, data);
}
