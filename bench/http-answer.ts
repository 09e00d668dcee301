// One HTTP GET on a fresh connection (no agent), for the benches that poll a cluster: the body,
// or an error after 2 s.
import http from 'node:http';

export function answer(port: number, pathname = '/'): Promise<string> {
  return new Promise((resolve, reject) => {
    const request = http.get({ host: '127.0.0.1', port, path: pathname, agent: false }, (response) => {
      let body = '';
      response.setEncoding('utf8').on('data', (chunk: string) => { body += chunk; }).on('end', () => resolve(body));
    });
    request.on('error', reject);
    request.setTimeout(2_000, () => request.destroy(new Error('timeout')));
  });
}
