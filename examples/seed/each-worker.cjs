// Seed 1, §1.3: the tutorial's eachWorker() fragment, exactly as written, in the smallest
// program that runs it: the primary forks one worker per CPU and, once every worker has
// reported ready over IPC, sends the announcement to each; workers print it and exit. Only the
// module name in the cluster require differs from the node:cluster version.
var cluster = require('corral');

if (cluster.isMaster) {
var numWorkers = require('os').cpus().length;
var online = 0;
for (var i = 0; i < numWorkers; i++) {
    cluster.fork();
}
cluster.on('message', function(worker, message) {
    if (message === 'ready' && ++online === numWorkers) {
    function eachWorker(callback) {
    for (var id in cluster.workers) {
        callback(cluster.workers[id]);
    }
    }
    eachWorker(function(worker) {
    worker.send('big announcement to all workers');
    });
    }
});
} else {
process.on('message', function(message) {
    console.log('Worker ' + cluster.worker.id + ' received: ' + message);
    process.exit(0);
});
process.send('ready');
}
