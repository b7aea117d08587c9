import 'reflect-metadata';
import fs from 'node:fs';
import path from 'node:path';
import { buildGatewaySchema, printGatewaySchema } from '../modules/schema';

/** `npm run schema`: writes schema/schema.graphql from the code-first schema. */
async function main(): Promise<void> {
  const file = path.join(__dirname, '../../schema/schema.graphql');
  fs.writeFileSync(file, printGatewaySchema(await buildGatewaySchema()));
  console.log(`wrote ${path.relative(process.cwd(), file)}`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
