// Seed 2, "test.js": the cluster example exactly as the tutorial writes it, with only
// the module name in its cluster require changed to corral. One worker per CPU, all serving port 8000.

const cluster = require('corral');
const http = require('http');
const numCPUs = require('os').cpus().length;

if (cluster.isMaster) {
    console.log('Master process id is', process.pid)
    // fork workers
    for (let i = 0; i < numCPUs; i++) {
        cluster.fork()
    }
    cluster.on('exit', (worker, code, signal) => {
        console.log('worker process died id ', worker.process.pid)
    })
} else {
    // worker 可以共享同一个TCP连接
    // 这里的例子是一个http服务
    http.createServer( (req, res)=> {
        res.writeHead(200);
        res.end('hello world\n')
    }).listen(8000)
    console.log('Worker started, process id', process.pid)
}
