import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { test } from 'node:test';
import { groupPhotos, identityImages } from '@facewatch/face/testing';
import { eventually, startEmbeddedProcess } from '../test/launch.js';
import { fakeAwsDeployment, fakeAwsEntry } from './fake-aws.js';

// An existing local deployment switched to FACE_PROCESSING_BACKEND=aws_rekognition (fake
// Rekognition, S3 on moto): the reference images of blacklist_db/ are enrolled into the collection
// and S3 at start, and only then removed locally; the persons keep their ids and still match.

const deployment = fakeAwsDeployment('switch');

test('local → aws_rekognition: blacklist_db is enrolled into Rekognition and S3, then emptied', async () => {
  const local = await startEmbeddedProcess();
  const work = local.work;
  const ids = new Map<string, string>();
  for (const person of ['leonard', 'sheldon']) {
    const form = new FormData();
    form.append('name', person);
    for (const image of identityImages()
      .filter((i) => i.person === person)
      .slice(0, 2))
      form.append('images', new Blob([readFileSync(image.path)]), basename(image.path));
    const res = await fetch(`${local.baseUrl}/api/v1/blacklist`, { method: 'POST', body: form });
    assert.equal(res.status, 201);
    ids.set(person, ((await res.json()) as { id: string }).id);
  }
  assert.equal(await local.stop({ keep: true }), 0);
  assert.deepEqual(readdirSync(join(work, 'blacklist_db', 'leonard')).sort(), ['leonard1.png', 'leonard2.png']);

  const aws = await startEmbeddedProcess(deployment.env, { work, entry: fakeAwsEntry });
  try {
    assert.deepEqual(await deployment.keys(), [
      'blacklist_db/leonard/leonard1.png',
      'blacklist_db/leonard/leonard2.png',
      'blacklist_db/sheldon/sheldon1.png',
      'blacklist_db/sheldon/sheldon2.png',
    ]);
    await eventually(async () => (readdirSync(join(work, 'blacklist_db', 'sheldon')).length === 0 ? true : undefined), 'local copies removed');
    const list = (await (await fetch(`${aws.baseUrl}/api/v1/blacklist`)).json()) as { items: { id: string; name: string; image_count: number }[] };
    assert.deepEqual(list.items.map((p) => [p.name, p.id, p.image_count]).sort(), [
      ['leonard', ids.get('leonard'), 2],
      ['sheldon', ids.get('sheldon'), 2],
    ]);
    const group = groupPhotos().find((g) => g.file.endsWith('bbt2.jpg'))!;
    const res = await fetch(`${aws.baseUrl}/api/v1/process/process-images`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ images: [readFileSync(group.path).toString('base64')] }),
    });
    const [result] = (await res.json()) as { model_name: string; faces: { blacklist_matches: { name: string }[] }[] }[];
    assert.equal(result!.model_name, 'aws_rekognition');
    assert.deepEqual(result!.faces.flatMap((f) => f.blacklist_matches.map((m) => m.name)).sort(), ['leonard', 'sheldon']);
  } finally {
    assert.equal(await aws.stop(), 0);
  }
});
