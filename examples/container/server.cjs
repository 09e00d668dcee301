// The app of the container example: a plain HTTP server with no cluster code. corral runs it on
// every CPU the container may use (its CPU limit), on PORT (8000 by default).
'use strict';
const http = require('node:http');

http.createServer((request, response) => {
  response.end(`hello from worker ${process.pid}\n`);
}).listen(Number(process.env.PORT ?? 8000));
