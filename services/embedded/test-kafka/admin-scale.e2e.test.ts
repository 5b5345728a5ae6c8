import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, test } from 'node:test';
import { promisify } from 'node:util';
import pg from 'pg';
import { projectRoot } from '@facewatch/core';
import { fixturesDir, groupPhotos } from '@facewatch/face/testing';
import { startEmbeddedProcess, startScaleProcesses, type RunningProfile } from '../test/launch.js';

// Moving a watch-list between profiles as an operator would: enrol with the CLI into `npm start`
// (SQLite), export, stop it (its data is gone), import into the scale profile (PostgreSQL +
// pgvector, through its API), and the same photos give the same matches. Then erasure on
// PostgreSQL: no row or vector of a deleted person is left.

const bin = resolve(projectRoot(), 'services/cli/bin/facewatch.js');
const run = promisify(execFile);
const scratch = mkdtempSync(join(tmpdir(), 'facewatch-move-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

async function facewatch(app: RunningProfile, ...args: string[]): Promise<any> {
  const { stdout } = await run(process.execPath, [bin, ...args, '--url', app.baseUrl, '--json'], { cwd: projectRoot(), maxBuffer: 64 * 1024 * 1024 });
  return JSON.parse(stdout);
}

/** Who each labelled face of the group photos is matched to: "bbt1.jpg#0 sheldon", … */
async function matches(app: RunningProfile): Promise<string[]> {
  const out: string[] = [];
  for (const g of groupPhotos()) {
    const res = await fetch(`${app.baseUrl}/api/v1/process/process-images`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ images: [readFileSync(g.path).toString('base64')] }),
    });
    const [r] = (await res.json()) as any[];
    for (const f of r.faces) out.push(`${g.file}#${f.face_index} ${f.decision} ${f.blacklist_matches.map((m: any) => `${m.person_id}:${m.name}`).join(',')}`);
  }
  return out;
}

test('export from the embedded profile, import into the scale profile: same people, same matches', { timeout: 600_000 }, async () => {
  const archive = join(scratch, 'watchlist.ndjson');
  const embedded = await startEmbeddedProcess();
  let before: string[];
  try {
    const enrolled = await facewatch(embedded, 'enrol', join(fixturesDir(), 'identities'));
    assert.equal(enrolled.people.length, 8);
    before = await matches(embedded);
    const exported = await facewatch(embedded, 'export', archive);
    assert.deepEqual([exported.people, exported.images], [8, 40]);
  } finally {
    assert.equal(await embedded.stop(), 0);
  }

  const scale = await startScaleProcesses();
  try {
    const imported = await facewatch(scale, 'import', archive);
    assert.deepEqual([imported.people, imported.imported, imported.images, imported.rejected], [8, 8, 40, []]);
    assert.equal(imported.complete, true);
    // importing again changes nothing
    const again = await facewatch(scale, 'import', archive);
    assert.equal(again.skipped, 8);
    const after = await matches(scale);
    assert.deepEqual(after, before, 'the same faces get the same people (same ids) and decisions');
    assert.ok(after.filter((m) => m.includes(' match ')).length >= 20);

    // the HNSW index: shipped build, rebuilt under other settings while the service runs, same matches
    const configured = { storage: 'halfvec', m: 16, ef_construction: 128 };
    assert.deepEqual(await facewatch(scale, 'vector-index'), { model: 'fr_feature@2', vectors: 40, kind: 'hnsw', build: configured, configured, ef_search: 100 });
    const rebuilt = await run(process.execPath, [bin, 'vector-index', 'rebuild', '--storage', 'vector', '--m', '8', '--ef-construction', '32', '--url', scale.baseUrl], {
      cwd: projectRoot(),
    });
    assert.match(rebuilt.stdout, /^40 vectors: HNSW halfvec, m 16, ef_construction 128 → HNSW vector, m 8, ef_construction 32 \(built in \d+ s\)\n$/);
    for (const phase of ['starting', 'switching to the new index', 'waiting for other processes to switch', 'dropping the former index']) {
      assert.ok(rebuilt.stderr.includes(`vector-index: ${phase}\n`), `${phase} in ${rebuilt.stderr}`);
    }
    assert.deepEqual((await facewatch(scale, 'vector-index')).build, { storage: 'vector', m: 8, ef_construction: 32 });
    assert.deepEqual(await matches(scale), before, 'the same matches through the rebuilt index');
    const audit = await facewatch(scale, 'audit', '--action', 'vector_index.rebuild');
    assert.deepEqual(
      audit.items.map((e: any) => e.details),
      [{ storage: 'vector', m: 8, ef_construction: 32 }],
    );

    // erasure on PostgreSQL: delete Raj, then look for him in every table of the schema
    const people = await facewatch(scale, 'people', 'list');
    const raj = people.find((p: any) => p.name === 'raj');
    const client = new pg.Client({ connectionString: process.env['DATABASE_URL'] });
    await client.connect();
    try {
      const q = pg.escapeIdentifier(scale.pgSchema!);
      const faceIds = (await client.query(`SELECT id FROM ${q}.reference_faces WHERE person_id = $1`, [raj.id])).rows.map((r) => r.id as string);
      assert.equal(faceIds.length, 5);
      await facewatch(scale, 'people', 'delete', raj.id);
      const tables = (await client.query(`SELECT table_name FROM information_schema.tables WHERE table_schema = $1`, [scale.pgSchema])).rows.map((r) => r.table_name as string);
      const left: string[] = [];
      for (const table of tables) {
        if (table === 'audit_log') continue;
        const rows = (await client.query(`SELECT * FROM ${q}.${pg.escapeIdentifier(table)}`)).rows;
        if (rows.some((row) => JSON.stringify(row).includes(raj.id) || faceIds.some((id) => JSON.stringify(row).includes(id)))) left.push(table);
      }
      assert.deepEqual(left, [], 'no row or vector of his is left');
    } finally {
      await client.end();
    }
  } finally {
    assert.equal(await scale.stop(), 0);
  }
});
