import { readFileSync, writeFileSync } from 'node:fs';
import { generateOpenApi, openApiFile } from './openapi-document.js';

// `npm run openapi` writes docs/openapi.json; `npm run openapi -- --check` fails when it drifted.
const text = `${JSON.stringify(generateOpenApi(), null, 2)}\n`;
if (process.argv.includes('--check')) {
  let committed = '';
  try {
    committed = readFileSync(openApiFile(), 'utf8');
  } catch {
    // missing counts as drift
  }
  if (committed !== text) {
    console.error(`${openApiFile()} differs from the routes: run \`npm run openapi\` and commit it`);
    process.exit(1);
  }
  console.log('docs/openapi.json matches the routes');
} else {
  writeFileSync(openApiFile(), text);
  console.log(`wrote ${openApiFile()}`);
}
