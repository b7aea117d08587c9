import 'reflect-metadata';
import fs from 'node:fs';
import path from 'node:path';
import { createPubSub } from '@graphql-yoga/subscription';
import { buildGatewaySchema, printGatewaySchema } from '../modules/schema';

// Printing needs no Redis: an in-process PubSub satisfies buildSchema and is never used.
const offlinePubSub = createPubSub();

/** `npm run schema`: writes schema/schema.graphql from the code-first schema. */
async function main(): Promise<void> {
  const file = path.join(__dirname, '../../schema/schema.graphql');
  fs.writeFileSync(file, printGatewaySchema(await buildGatewaySchema(offlinePubSub)));
  console.log(`wrote ${path.relative(process.cwd(), file)}`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
