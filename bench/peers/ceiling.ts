// The ceiling: node:http answering with response bytes computed once (a real answer of the
// gateway to each benchmark query, passed in by the harness). Nothing can serve those bytes faster
// on this machine, so every peer is measured against it.
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { announceReady, port } from './common';

// { "<marker in the request body>": "<response body>" }, first match wins.
const answers = Object.entries(JSON.parse(readFileSync(process.env.CEILING_ANSWERS!, 'utf8')) as Record<string, string>).map(
  ([marker, body]) => [marker, Buffer.from(body)] as const,
);

createServer((request, response) => {
  const chunks: Buffer[] = [];
  request.on('data', (chunk: Buffer) => chunks.push(chunk));
  request.on('end', () => {
    const body = Buffer.concat(chunks).toString();
    const answer = answers.find(([marker]) => body.includes(marker))?.[1] ?? answers[0]![1];
    response.writeHead(200, { 'content-type': 'application/json', 'content-length': answer.length });
    response.end(answer);
  });
}).listen(port(), '127.0.0.1', () => announceReady('ceiling'));
