import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { openSetPeople, openSetPhotos, type FaceLabel } from '@facewatch/face/testing';

/**
 * The open-set evaluation: what a watch-list lives by. Enrols every person of both fixture sets
 * through the HTTP API, sends the group photos (known people among strangers) and the
 * strangers-only photos through POST /api/v1/process/process-images, and counts per photo: known
 * faces alerted with the right name, in review, missed (unknown) or misnamed (alerted as someone
 * else), and stranger faces alerted or in review. `npm run eval:openset` prints it; a medium test
 * asserts on it.
 */

interface ApiFace {
  face_index: number;
  facial_area: { x: number; y: number; w: number; h: number };
  decision: 'match' | 'review' | 'unknown';
  decision_reason: string | null;
  score: number | null;
  thresholds: { match: number; review: number } | null;
  gates_failed: { gate: string }[];
  blacklist_matches: { name: string; distance: number }[];
  candidates: { name: string; score: number | null; distance: number }[];
}

export interface EvaluatedFace {
  photo: string;
  faceIndex: number;
  label: FaceLabel;
  decision: ApiFace['decision'];
  reason: string | null;
  /** Alerted name (match) or best candidate. */
  name: string | null;
  score: number | null;
  distance: number | null;
  gates: string[];
  /** known: alerted (right name), review, missed, misnamed; stranger: alerted, review, unknown. */
  outcome: 'alerted' | 'review' | 'missed' | 'misnamed' | 'unknown' | 'unsure';
}

export interface PhotoRow {
  photo: string;
  faces: number;
  known: { alerted: number; review: number; missed: number; misnamed: number };
  strangers: { total: number; alerted: number; review: number };
}

export interface OpenSetReport {
  enrolled: { people: number; references: number; rejected: { file: string; code: string }[] };
  thresholds: { match: number; review: number } | null;
  photos: PhotoRow[];
  total: PhotoRow;
  faces: EvaluatedFace[];
}

async function call(url: string, init: RequestInit): Promise<unknown> {
  const res = await fetch(url, init);
  const body = await res.json();
  if (!res.ok) throw new Error(`${init.method ?? 'GET'} ${url}: ${res.status} ${JSON.stringify(body)}`);
  return body;
}

export async function runOpenSetEval(baseUrl: string, headers: Record<string, string> = {}): Promise<OpenSetReport> {
  const api = `${baseUrl}/api/v1`;
  const rejected: { file: string; code: string }[] = [];
  let references = 0;
  const people = openSetPeople();
  for (const { person, files } of people) {
    const form = new FormData();
    form.append('name', person);
    form.append('reason', 'open-set evaluation');
    for (const f of files) form.append('images', new Blob([readFileSync(f)]), basename(f));
    const created = (await call(`${api}/blacklist/`, { method: 'POST', body: form, headers })) as { image_count: number; rejected: { filename: string; code: string }[] };
    references += created.image_count;
    rejected.push(...created.rejected.map((r) => ({ file: `${person}/${r.filename}`, code: r.code })));
  }

  const faces: EvaluatedFace[] = [];
  const rows: PhotoRow[] = [];
  let thresholds: OpenSetReport['thresholds'] = null;
  for (const photo of openSetPhotos()) {
    const [result] = (await call(`${api}/process/process-images`, {
      method: 'POST',
      headers: { ...headers, 'content-type': 'application/json' },
      body: JSON.stringify({ images: [readFileSync(photo.path).toString('base64')] }),
    })) as { faces: ApiFace[]; error: unknown }[];
    if (!result || result.error) throw new Error(`${photo.file}: ${JSON.stringify(result?.error)}`);
    const labels = photo.label(result.faces.map((f) => ({ box: f.facial_area })));
    const row: PhotoRow = {
      photo: photo.file,
      faces: result.faces.length,
      known: { alerted: 0, review: 0, missed: 0, misnamed: 0 },
      strangers: { total: 0, alerted: 0, review: 0 },
    };
    for (const [i, face] of result.faces.entries()) {
      const label = labels[i]!;
      thresholds ??= face.thresholds;
      const alerted = face.blacklist_matches[0]?.name ?? null;
      const best = face.candidates[0];
      let outcome: EvaluatedFace['outcome'];
      if (label.kind === 'unsure') outcome = 'unsure';
      else if (label.kind === 'known') {
        outcome = face.decision === 'match' ? (alerted === label.name ? 'alerted' : 'misnamed') : face.decision === 'review' ? 'review' : 'missed';
        row.known[outcome as keyof PhotoRow['known']]++;
      } else {
        row.strangers.total++;
        outcome = face.decision === 'match' ? 'alerted' : face.decision === 'review' ? 'review' : 'unknown';
        if (outcome !== 'unknown') row.strangers[outcome]++;
      }
      faces.push({
        photo: photo.file,
        faceIndex: face.face_index,
        label,
        decision: face.decision,
        reason: face.decision_reason,
        name: alerted ?? best?.name ?? null,
        score: face.score,
        distance: face.blacklist_matches[0]?.distance ?? best?.distance ?? null,
        gates: face.gates_failed.map((g) => g.gate),
        outcome,
      });
    }
    rows.push(row);
  }
  const total: PhotoRow = {
    photo: 'total',
    faces: rows.reduce((n, r) => n + r.faces, 0),
    known: { alerted: 0, review: 0, missed: 0, misnamed: 0 },
    strangers: { total: 0, alerted: 0, review: 0 },
  };
  for (const r of rows) {
    for (const k of ['alerted', 'review', 'missed', 'misnamed'] as const) total.known[k] += r.known[k];
    for (const k of ['total', 'alerted', 'review'] as const) total.strangers[k] += r.strangers[k];
  }
  return { enrolled: { people: people.length, references, rejected }, thresholds, photos: rows, total, faces };
}

/** The report as the table `npm run eval:openset` prints. */
export function formatOpenSetReport(report: OpenSetReport): string {
  const lines: string[] = [];
  const { enrolled, thresholds, total } = report;
  lines.push(
    `enrolled ${enrolled.people} people, ${enrolled.references} reference images${enrolled.rejected.length ? `; refused: ${enrolled.rejected.map((r) => `${r.file} (${r.code})`).join(', ')}` : ''}`,
  );
  if (thresholds) lines.push(`thresholds at this watch-list size: match score ≥ ${thresholds.match}, review ≥ ${thresholds.review}`);
  lines.push('');
  const header = ['photo', 'faces', 'known', 'alerted', 'review', 'missed', 'misnamed', 'strangers', 'alerted', 'review'];
  const table = [...report.photos, total].map((r) =>
    [
      r.photo,
      r.faces,
      r.known.alerted + r.known.review + r.known.missed + r.known.misnamed,
      r.known.alerted,
      r.known.review,
      r.known.missed,
      r.known.misnamed,
      r.strangers.total,
      r.strangers.alerted,
      r.strangers.review,
    ].map(String),
  );
  const widths = header.map((h, i) => Math.max(h.length, ...table.map((row) => row[i]!.length)));
  const fmt = (cells: string[]): string => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  lines.push(fmt(header), widths.map((w) => '-'.repeat(w)).join('  '));
  for (const row of table.slice(0, -1)) lines.push(fmt(row));
  lines.push(widths.map((w) => '-'.repeat(w)).join('  '), fmt(table.at(-1)!));

  const describe = (f: EvaluatedFace): string =>
    `  ${f.photo}#${f.faceIndex} ${f.label.kind === 'known' ? f.label.name : f.label.kind}: ${f.decision} (${f.reason}${f.gates.length ? `: ${f.gates.join(', ')}` : ''}) ${f.name ?? '-'} score ${f.score ?? '-'} distance ${f.distance ?? '-'}`;
  lines.push('', 'known faces, lowest score first:');
  for (const f of report.faces.filter((x) => x.label.kind === 'known').sort((a, b) => (a.score ?? 0) - (b.score ?? 0))) lines.push(describe(f));
  lines.push('', 'stranger faces alerted, in review, or the 5 closest:');
  const strangers = report.faces.filter((x) => x.label.kind === 'stranger').sort((a, b) => (b.score ?? -1) - (a.score ?? -1));
  for (const [i, f] of strangers.entries()) if (i < 5 || f.outcome !== 'unknown') lines.push(describe(f));
  return `${lines.join('\n')}\n`;
}
