// Seed 1, §1.1, first program, exactly as the tutorial writes it, with only
// the module name in its cluster require changed to corral. As written, the worker branch uses `http`
// without requiring it, so on node:cluster and on corral alike every worker throws
// `ReferenceError: http is not defined` and exits with code 1, and the primary then exits.
var cluster = require('corral');
var os = require('os');

if (cluster.isMaster){
for (var i = 0, n = os.cpus().length; i < n; i += 1){
    cluster.fork();
}
} else {
http.createServer(function(req, res) {
    res.writeHead(200);
    res.end("hello world\n");
}).listen(8000);
}
