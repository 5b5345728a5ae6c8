import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { eventJsonSchemas } from './event-schemas.js';
import { projectRoot } from './paths.js';

// `npm run schemas` writes libs/core/schemas/<topic>.json; `-- --check` fails when they drifted.
const dir = join(projectRoot(), 'libs', 'core', 'schemas');
let drifted = false;
for (const [topic, schema] of Object.entries(eventJsonSchemas())) {
  const file = join(dir, `${topic}.json`);
  const text = `${JSON.stringify(schema, null, 2)}\n`;
  if (process.argv.includes('--check')) {
    let committed = '';
    try {
      committed = readFileSync(file, 'utf8');
    } catch {
      // missing counts as drift
    }
    if (committed !== text) {
      console.error(`${file} differs from the event schemas in code: run \`npm run schemas\``);
      drifted = true;
    }
  } else writeFileSync(file, text);
}
if (drifted) process.exit(1);
