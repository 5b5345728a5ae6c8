import { join } from 'node:path';
import { after, before } from 'node:test';
import { openSqliteStore, type Store } from '@facewatch/db';
import { storeContract, vectorIndexContract } from '@facewatch/db/testing';
import { tempDir } from './helpers.js';

// Every vector-index test gets its own model in one shared database file, so the isolation test
// runs against real neighbours.
const shared = tempDir();
let store: Store;
before(async () => {
  store = await openSqliteStore({ path: join(shared.dir, 'vectors.db') });
});
after(async () => {
  await store.close();
  shared.remove();
});

vectorIndexContract('SQLite exact scan (file)', async (model, dimensions) => ({
  index: await store.vectorIndex(model, dimensions),
  cleanup: async () => {},
}));

// Every store test gets its own database file.
storeContract('SQLite (file)', async () => {
  const temp = tempDir();
  const fileStore = await openSqliteStore({ path: join(temp.dir, 'nested', 'facewatch.db') });
  return {
    store: fileStore,
    cleanup: async () => {
      await fileStore.close();
      temp.remove();
    },
  };
});

storeContract('SQLite (:memory:)', async () => {
  const memoryStore = await openSqliteStore({ path: ':memory:' });
  return { store: memoryStore, cleanup: () => memoryStore.close() };
});
