import { after, before } from 'node:test';
import { openPostgresStore, type Store } from '@facewatch/db';
import { storeContract, vectorIndexContract } from '@facewatch/db/testing';
import { databaseUrl, dropSchema, uniqueSchema } from './helpers.js';

// Both contract suites against a real PostgreSQL + pgvector server (DATABASE_URL). Every store gets
// its own schema, dropped afterwards; the vector-index tests share one store and schema (one model
// each), so the isolation test runs against real neighbours.
const vectorSchema = uniqueSchema('vectors');
let shared: Store | undefined;

before(async () => {
  shared = await openPostgresStore({ connectionString: databaseUrl(), schema: vectorSchema });
});
after(async () => {
  await shared?.close();
  await dropSchema(vectorSchema);
});

vectorIndexContract('PostgreSQL pgvector HNSW (ef_search 100)', async (model, dimensions) => {
  if (shared === undefined) throw new Error('the shared PostgreSQL store did not open (see the before hook)');
  return { index: await shared.vectorIndex(model, dimensions), cleanup: async () => {} };
});

storeContract('PostgreSQL', async () => {
  const schema = uniqueSchema('store');
  const store = await openPostgresStore({ connectionString: databaseUrl(), schema, poolSize: 4 });
  return {
    store,
    cleanup: async () => {
      await store.close();
      await dropSchema(schema);
    },
  };
});
