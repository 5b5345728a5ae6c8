#!/usr/bin/env node
// The architecture rule, checked on every `npm test` (and `npm run lint`):
// - libs never import services; services never import other services;
// - a package is imported only through its entry points (`@facewatch/x` and its declared "exports"),
//   never its src/ or dist/;
// - relative imports stay inside their own package;
// - every @facewatch/* import is declared in the importing package's dependencies;
// - a service's code reads its settings from the typed config (libs/core/src/config.ts), never
//   process.env; benchmarks and evaluation scripts (src/bench, src/eval) are tools that set up
//   the environment of what they start, and the face pool sizes libuv's thread pool before use.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(fileURLToPath(import.meta.url), '../..');
// Composition roots wire services into one process (the embedded profile); they are the only
// packages allowed to import services.
const compositionRoots = new Set(['@facewatch/embedded']);
const packages = ['libs', 'services'].flatMap((group) =>
  readdirSync(join(root, group))
    .map((name) => ({ group, dir: join(root, group, name) }))
    .filter((p) => statSync(p.dir).isDirectory()),
);
const byName = new Map();
for (const p of packages) {
  const pkg = JSON.parse(readFileSync(join(p.dir, 'package.json'), 'utf8'));
  p.name = pkg.name;
  p.exports = new Set(Object.keys(pkg.exports ?? { '.': null }));
  p.deps = new Set(Object.keys({ ...pkg.dependencies, ...pkg.devDependencies }));
  byName.set(pkg.name, p);
}

function sources(dir, out = []) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (!['node_modules', 'dist', 'dist-test'].includes(entry.name)) sources(path, out);
    } else if (/\.(ts|mts|js|mjs)$/.test(entry.name) && !entry.name.endsWith('.d.ts')) out.push(path);
  }
  return out;
}

const problems = [];
const envAllowed = (file) =>
  file === join(root, 'libs/core/src/config.ts') || file === join(root, 'libs/face/src/pool/face-pool.ts') || /[/\\]src[/\\](bench|eval)[/\\]/.test(file);
const importRe = /(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)|import\s+['"]([^'"]+)['"]/g;
for (const p of packages) {
  for (const file of sources(p.dir)) {
    const text = readFileSync(file, 'utf8');
    const inSrc = file.startsWith(join(p.dir, 'src') + sep) && !file.endsWith('.test.ts');
    if (inSrc && /\bprocess\.env\b/.test(text) && !envAllowed(file))
      problems.push(`${relative(root, file)} reads process.env: take the setting from the config (libs/core/src/config.ts)`);
    for (const m of text.matchAll(importRe)) {
      const spec = m[1] ?? m[2] ?? m[3];
      const where = `${relative(root, file)}: "${spec}"`;
      if (spec.startsWith('.')) {
        const target = resolve(dirname(file), spec);
        if (!target.startsWith(p.dir + sep)) problems.push(`${where} reaches outside its package`);
        continue;
      }
      if (!spec.startsWith('@facewatch/')) continue;
      const [scope, name, ...rest] = spec.split('/');
      const target = byName.get(`${scope}/${name}`);
      if (!target) {
        problems.push(`${where} names no workspace package`);
        continue;
      }
      if (rest.length > 0 && !target.exports.has(`./${rest.join('/')}`)) {
        problems.push(`${where} imports another package's internals; use "${scope}/${name}" or an entry in its "exports"`);
      }
      if (target === p) continue;
      if (compositionRoots.has(target.name)) problems.push(`${where}: nothing imports a composition root`);
      if (p.group === 'libs' && target.group === 'services') problems.push(`${where}: a lib must not import a service`);
      if (p.group === 'services' && target.group === 'services' && !compositionRoots.has(p.name))
        problems.push(`${where}: services meet through events and the database, not imports`);
      if (!p.deps.has(target.name)) problems.push(`${where}: ${target.name} is not in ${relative(root, p.dir)}/package.json dependencies`);
    }
  }
}

if (problems.length > 0) {
  console.error(`architecture check failed:\n  ${problems.join('\n  ')}`);
  process.exit(1);
}
console.log(`architecture check: ${packages.length} packages, no boundary violations, process.env only in the config`);
