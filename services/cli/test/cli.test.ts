import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, test } from 'node:test';
import { promisify } from 'node:util';
import { projectRoot } from '@facewatch/core';
import { fixturesDir, openSetDir, groupPhotos, identityImages, noFaceImage } from '@facewatch/face/testing';
import { DecisionParamsSchema, loadDecisionParams } from '@facewatch/recognition';

// End-to-end: the `facewatch` command as a user runs it (the package bin), real models and images.
const bin = resolve(projectRoot(), 'services/cli/bin/facewatch.js');
const run = promisify(execFile);
const work = mkdtempSync(join(tmpdir(), 'facewatch-cli-'));
after(() => rmSync(work, { recursive: true, force: true }));

async function facewatch(...args: string[]): Promise<{ code: number; lines: any[]; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [bin, ...args], { cwd: projectRoot(), maxBuffer: 64 * 1024 * 1024 });
    return {
      code: 0,
      lines: stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l)),
      stderr,
    };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return {
      code: e.code,
      lines: e.stdout.trim()
        ? e.stdout
            .trim()
            .split('\n')
            .map((l) => JSON.parse(l))
        : [],
      stderr: e.stderr,
    };
  }
}

test('detect prints one line per image, in order, with errors in place', async () => {
  const groups = groupPhotos();
  const text = join(work, 'notes.txt');
  writeFileSync(text, 'not an image');
  const images = [groups[2]!.path, join(work, 'missing.jpg'), noFaceImage(), text, groups[3]!.path];
  const { code, lines } = await facewatch('detect', ...images);
  assert.equal(code, 1, 'exit code 1 when any image failed');
  assert.deepEqual(
    lines.map((l) => l.image),
    images,
  );
  assert.equal(lines[0].faces.length, groups[2]!.minFaces);
  assert.equal(lines[0].error, null);
  assert.equal(lines[1].error.code, 'IMAGE_NOT_FOUND');
  assert.deepEqual(lines[2], { image: images[2], faces: [], error: null });
  assert.equal(lines[3].error.code, 'IMAGE_UNSUPPORTED_FORMAT');
  assert.equal(lines[4].faces.length, groups[3]!.minFaces);
  const face = lines[0].faces[0];
  assert.deepEqual(Object.keys(face.facial_area), ['x', 'y', 'w', 'h', 'left_eye', 'right_eye', 'nose', 'mouth_left', 'mouth_right']);
  assert.ok(face.confidence > 0.6 && face.confidence <= 1);
  assert.ok(Number.isInteger(face.facial_area.x) && face.facial_area.left_eye.length === 2);
});

test('detect --detector ultraface', async () => {
  const group = groupPhotos()[0]!;
  const { code, lines } = await facewatch('detect', '--detector', 'ultraface', group.path);
  assert.equal(code, 0);
  assert.equal(lines[0].faces.length, group.minFaces);
});

test('represent adds a 512-d unit embedding per face', async () => {
  const { code, lines } = await facewatch('represent', identityImages()[0]!.path);
  assert.equal(code, 0);
  const embedding: number[] = lines[0].faces[0].embedding;
  assert.equal(embedding.length, 512);
  const norm = Math.sqrt(embedding.reduce((a, v) => a + v * v, 0));
  assert.ok(Math.abs(norm - 1) < 1e-4);
});

test('verify: same person verified, different people not, metric and threshold honoured', async () => {
  const ids = identityImages();
  const amy = ids.filter((i) => i.person === 'amy');
  const raj = ids.find((i) => i.person === 'raj')!;
  const same = await facewatch('verify', amy[0]!.path, amy[1]!.path);
  assert.equal(same.code, 0);
  assert.deepEqual(Object.keys(same.lines[0]), ['verified', 'distance', 'threshold', 'metric', 'model', 'detector']);
  assert.equal(same.lines[0].verified, true);
  assert.equal(same.lines[0].metric, 'cosine');
  assert.equal(same.lines[0].model, 'fr_feature');
  assert.equal(same.lines[0].detector, 'yunet');
  const other = await facewatch('verify', '--metric', 'euclidean_l2', amy[0]!.path, raj.path);
  assert.equal(other.lines[0].verified, false);
  assert.equal(other.lines[0].metric, 'euclidean_l2');
  assert.ok(other.lines[0].distance > other.lines[0].threshold);
  const forced = await facewatch('verify', '--threshold', '2', amy[0]!.path, raj.path);
  assert.equal(forced.lines[0].threshold, 2);
  assert.equal(forced.lines[0].verified, true);
});

test('verify with no face, and bad arguments, are clear errors', async () => {
  const ids = identityImages();
  const noFace = await facewatch('verify', ids[0]!.path, noFaceImage());
  assert.equal(noFace.code, 1);
  assert.equal(noFace.lines[0].error.code, 'NO_FACE');
  const badMetric = await facewatch('verify', '--metric', 'manhattan', ids[0]!.path, ids[1]!.path);
  assert.equal(badMetric.code, 2);
  assert.equal(badMetric.lines[0].error.code, 'INVALID_ARGUMENT');
  const usage = await facewatch('frobnicate');
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /usage:/);
});

test('calibrate --json: fits parameters from a folder per person and a folder of strangers, writes the file the service loads', async () => {
  const out = join(work, 'params.json');
  const strangers = join(work, 'strangers');
  mkdirSync(strangers);
  copyFileSync(join(openSetDir(), 'strangers', 'group-3.jpg'), join(strangers, 'crowd.jpg'));
  const { code, lines } = await facewatch('calibrate', '--people', join(fixturesDir(), 'identities'), '--strangers', strangers, '--target-fmr', '0.0005', '--out', out, '--json');
  assert.equal(code, 0);
  const [report] = lines;
  assert.equal(report.params_file, out);
  const params = JSON.parse(readFileSync(out, 'utf8'));
  assert.deepEqual(params, report.params);
  assert.ok(DecisionParamsSchema.safeParse(params).success);
  assert.equal(params.model, 'fr_feature@2');
  assert.equal(params.score.k, 3);
  assert.deepEqual(params.targets, { match_false_alert_rate: 0.0005, review_false_alert_rate: 0.02 });
  // 8 people × 5 crops; the 4 faces of a photo of other people are the strangers
  assert.deepEqual([params.fitted.people, params.fitted.reference_faces, params.fitted.stranger_faces], [8, 40, 4]);
  assert.equal(params.fitted.genuine_scores, 40);
  assert.equal(params.fitted.impostor_scores, 40 * 7 + 4 * 8);
  assert.deepEqual(
    params.roc.map((r: { false_match_rate: number }) => r.false_match_rate),
    [0.1, 0.01, 0.001, 1e-4, 1e-5, 1e-6],
  );
  assert.ok(params.roc[2].true_match_rate > 0.9, JSON.stringify(params.roc));
  // the service accepts it
  assert.equal(loadDecisionParams(out).impostor_tail.scale, params.impostor_tail.scale);
});

test('calibrate on a terminal draws a progress bar on stderr and prints the report', async () => {
  // `script` gives the command a pseudo-terminal, as a user's shell would
  const command = [process.execPath, bin, 'calibrate', '--people', join(fixturesDir(), 'identities'), '--out', join(work, 'tty-params.json')].map((a) => `'${a}'`).join(' ');
  const { stdout } = await run('script', ['-qefc', command, '/dev/null'], { cwd: projectRoot(), maxBuffer: 16 * 1024 * 1024 });
  assert.match(stdout, /calibrate: embedding \[#+-*\] \d+\/40/, 'a bar redrawn in place');
  assert.match(stdout, /\r\x1b\[2Kcalibrate: embedding: 40\/40 in \d+:\d\d/, 'the finished line');
  assert.match(stdout, /thresholds by watch-list size/);
  assert.match(stdout, /wrote .*tty-params\.json/);
});

test('calibrate without --people, or with a bad rate, is a usage error', async () => {
  const missing = await facewatch('calibrate');
  assert.equal(missing.code, 2);
  assert.equal(missing.lines[0].error.code, 'INVALID_ARGUMENT');
  const bad = await facewatch('calibrate', '--people', join(fixturesDir(), 'identities'), '--target-fmr', '3');
  assert.equal(bad.code, 2);
  assert.match(bad.lines[0].error.message, /--target-fmr must be a number from/);
});
