// Seed 1, §1.1, second program, exactly as the tutorial writes it, with only
// the module name in its cluster require changed to corral: log 'online' and 'exit', and fork a
// replacement for every worker that dies.
var cluster = require('corral');

if(cluster.isMaster) {
var numWorkers = require('os').cpus().length;
console.log('Master cluster setting up ' + numWorkers + ' workers...');

for(var i = 0; i < numWorkers; i++) {
    cluster.fork();
}

cluster.on('online', function(worker) {
    console.log('Worker ' + worker.process.pid + ' is online');
});

cluster.on('exit', function(worker, code, signal) {
    console.log('Worker ' + worker.process.pid + ' died with code: ' + code + ', and signal: ' + signal);
    console.log('Starting a new worker');
    cluster.fork();
});
}
