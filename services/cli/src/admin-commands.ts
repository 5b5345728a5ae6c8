import { createReadStream, createWriteStream } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { extname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { Readable } from 'node:stream';
import { AppError, ErrorCode } from '@facewatch/core';
import { Progress } from './progress.js';

/**
 * The operators' commands: they drive a running facewatch server over its API (FACEWATCH_URL or
 * --url, API_KEY or --key), so the server stays the one writer of its store, index and folders.
 * Exit codes (docs/admin.md): 0 done; 1 done, but some items were refused or failed (listed);
 * 2 bad arguments; 3 the server cannot be reached or failed; 4 the API key is missing or wrong.
 */

export const ExitCode = { ok: 0, partial: 1, usage: 2, server: 3, auth: 4 } as const;

export class CliFailure extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
    readonly code: string,
  ) {
    super(message);
  }
}

export interface Server {
  url: string;
  key: string | undefined;
  json: boolean;
}

const imageExtensions = new Set(['.jpg', '.jpeg', '.png', '.webp', '.gif', '.tif', '.tiff']);

async function request(
  server: Server,
  method: string,
  path: string,
  init: { body?: RequestInit['body']; headers?: Record<string, string>; duplex?: 'half' } = {},
): Promise<Response> {
  // the server limits writes per key: wait as it says and try again (bodies that are streams are not repeatable)
  for (let attempt = 1; ; attempt++) {
    const res = await requestOnce(server, method, path, init);
    const repeatable = !(init.body instanceof ReadableStream);
    if (res.status !== 429 || attempt >= 20 || !repeatable) return checked(res, method, path);
    const wait = Math.min(60, Math.max(1, Number(res.headers.get('retry-after')) || 1));
    await res.body?.cancel();
    await new Promise((r) => setTimeout(r, wait * 1000));
  }
}

async function requestOnce(
  server: Server,
  method: string,
  path: string,
  init: { body?: RequestInit['body']; headers?: Record<string, string>; duplex?: 'half' },
): Promise<Response> {
  let res: Response;
  try {
    res = await fetch(`${server.url}/api/v1${path}`, {
      method,
      headers: { ...(server.key ? { 'X-API-Key': server.key } : {}), ...init.headers },
      ...(init.body !== undefined ? { body: init.body } : {}),
      ...(init.duplex ? { duplex: init.duplex } : {}),
    } as RequestInit);
  } catch (err) {
    throw new CliFailure(
      `cannot reach facewatch at ${server.url}: ${(err as Error).cause instanceof Error ? ((err as Error).cause as Error).message : (err as Error).message} (start it, or set FACEWATCH_URL / --url)`,
      ExitCode.server,
      'SERVER_UNREACHABLE',
    );
  }
  return res;
}

async function checked(res: Response, method: string, path: string): Promise<Response> {
  if (res.ok) return res;
  const body = (await res.json().catch(() => ({}))) as { code?: string; message?: string };
  // 501: the server does not offer the operation (e.g. no HNSW index in the embedded profile), which is no failure of it
  const exit = res.status === 401 || res.status === 403 ? ExitCode.auth : res.status >= 500 && res.status !== 501 ? ExitCode.server : ExitCode.usage;
  throw new CliFailure(`${method} ${path}: ${res.status} ${body.code ?? ''} ${body.message ?? ''}`.trim(), exit, body.code ?? `HTTP_${res.status}`);
}

async function json<T>(server: Server, method: string, path: string, body?: unknown): Promise<T> {
  const res = await request(server, method, path, body === undefined ? {} : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
  const text = await res.text();
  return (text ? JSON.parse(text) : undefined) as T;
}

/** NDJSON answer lines, as they arrive. */
async function* lines(res: Response): AsyncGenerator<Record<string, unknown>> {
  const reader = createInterface({ input: Readable.fromWeb(res.body as never), crlfDelay: Infinity });
  for await (const line of reader) if (line.trim()) yield JSON.parse(line) as Record<string, unknown>;
}

function print(server: Server, value: unknown, human: () => string): void {
  process.stdout.write(server.json ? `${JSON.stringify(value)}\n` : `${human()}\n`);
}

interface Person {
  id: string;
  name: string;
  reason: string | null;
  image_count: number;
  created_at: string;
  updated_at: string;
}

async function allPeople(server: Server): Promise<Person[]> {
  const out: Person[] = [];
  for (let offset = 0; ; offset += 1000) {
    const page = await json<{ total_items: number; items: Person[] }>(server, 'GET', `/blacklist?offset=${offset}&limit=1000`);
    out.push(...page.items);
    if (page.items.length < 1000) return out;
  }
}

/**
 * `enrol <folder>`: one sub-folder of photos per person (named after the folder); a person of
 * that name who exists gets the photos added. One photo per request, so the bar moves per file and
 * every refusal is reported with its reason.
 */
export async function enrol(server: Server, folder: string): Promise<number> {
  const root = resolve(folder);
  const people = (
    await readdir(root, { withFileTypes: true }).catch((err: unknown) => {
      throw new CliFailure(`cannot read ${root}: ${(err as Error).message}`, ExitCode.usage, ErrorCode.INVALID_ARGUMENT);
    })
  )
    .filter((e) => e.isDirectory() && !e.name.startsWith('.'))
    .map((e) => e.name)
    .sort();
  const work: { person: string; files: string[] }[] = [];
  for (const person of people) {
    const files = (await readdir(join(root, person))).filter((f) => !f.startsWith('.') && imageExtensions.has(extname(f).toLowerCase())).sort();
    if (files.length > 0) work.push({ person, files });
  }
  const total = work.reduce((n, w) => n + w.files.length, 0);
  if (total === 0) throw new CliFailure(`no photos in the person folders of ${root}`, ExitCode.usage, ErrorCode.INVALID_ARGUMENT);
  const existing = new Map((await allPeople(server)).map((p) => [p.name, p]));
  const progress = new Progress('enrol', total, process.stderr, server.json && process.stderr.isTTY !== true);
  const report: { person: string; id: string; added: number; rejected: { file: string; code: string; message: string }[] }[] = [];
  for (const { person, files } of work) {
    let id = existing.get(person)?.id;
    const entry = { person, id: id ?? '', added: 0, rejected: [] as { file: string; code: string; message: string }[] };
    for (const file of files) {
      const form = new FormData();
      form.append('images', new Blob([await readFile(join(root, person, file))]), file);
      let answer: { id?: string; person_id?: string; added?: number; image_count?: number; rejected: { filename: string; code: string; message: string }[] };
      if (id) {
        answer = (await (await request(server, 'POST', `/blacklist/${id}/images`, { body: form })).json()) as typeof answer;
        entry.added += answer.added ?? 0;
      } else {
        form.append('name', person);
        answer = (await (await request(server, 'POST', '/blacklist/', { body: form })).json()) as typeof answer;
        id = answer.id!;
        entry.id = id;
        entry.added += answer.image_count ?? 0;
      }
      for (const r of answer.rejected) entry.rejected.push({ file: `${person}/${r.filename}`, code: r.code, message: r.message });
      progress.tick();
    }
    report.push(entry);
  }
  const rejected = report.flatMap((r) => r.rejected);
  progress.finish(`${report.length} people, ${total - rejected.length} photos enrolled, ${rejected.length} refused`);
  print(server, { people: report }, () =>
    [
      ...report.map((r) => `${r.person}: ${r.added} added${r.rejected.length ? `, ${r.rejected.length} refused` : ''} (${r.id})`),
      ...rejected.map((r) => `  refused ${r.file}: ${r.code} ${r.message}`),
    ].join('\n'),
  );
  return rejected.length > 0 ? ExitCode.partial : ExitCode.ok;
}

/** `people list|show|rename|delete`. */
export async function people(server: Server, args: string[]): Promise<number> {
  const [action, id, ...rest] = args;
  switch (action) {
    case 'list': {
      const list = await allPeople(server);
      print(server, list, () =>
        list.length === 0 ? 'nobody on the watch-list' : list.map((p) => `${p.id}  ${p.name}  ${p.image_count} images${p.reason ? `  (${p.reason})` : ''}`).join('\n'),
      );
      return ExitCode.ok;
    }
    case 'show': {
      if (!id) throw new CliFailure('people show <id>', ExitCode.usage, ErrorCode.INVALID_ARGUMENT);
      const p = await json<Person>(server, 'GET', `/blacklist/${encodeURIComponent(id)}`);
      print(server, p, () => `${p.name}\n  id ${p.id}\n  reason ${p.reason ?? '-'}\n  ${p.image_count} reference images\n  enrolled ${p.created_at}, changed ${p.updated_at}`);
      return ExitCode.ok;
    }
    case 'rename': {
      const name = rest.join(' ').trim();
      if (!id || !name) throw new CliFailure('people rename <id> <new name>', ExitCode.usage, ErrorCode.INVALID_ARGUMENT);
      const p = await json<Person>(server, 'PUT', `/blacklist/${encodeURIComponent(id)}`, { name });
      print(server, p, () => `renamed ${p.id} to ${p.name}`);
      return ExitCode.ok;
    }
    case 'delete': {
      if (!id) throw new CliFailure('people delete <id>', ExitCode.usage, ErrorCode.INVALID_ARGUMENT);
      await request(server, 'DELETE', `/blacklist/${encodeURIComponent(id)}`);
      print(server, { deleted: id }, () => `deleted and erased ${id}`);
      return ExitCode.ok;
    }
    default:
      throw new CliFailure('people list | show <id> | rename <id> <name> | delete <id>', ExitCode.usage, ErrorCode.INVALID_ARGUMENT);
  }
}

/** `export <file>`: the watch-list archive, written as it streams. */
export async function exportArchive(server: Server, file: string): Promise<number> {
  const res = await request(server, 'GET', '/admin/export');
  const out = createWriteStream(resolve(file));
  let progress: Progress | undefined;
  let end: Record<string, unknown> | undefined;
  try {
    for await (const line of lines(res)) {
      out.write(`${JSON.stringify(line)}\n`);
      if (line['format']) progress = new Progress('export', Number(line['people'] ?? 0), process.stderr, server.json && process.stderr.isTTY !== true);
      else if (line['end']) end = line;
      else progress?.tick();
    }
  } finally {
    await new Promise<void>((r) => out.end(r));
  }
  if (!end) throw new CliFailure(`the export was cut short: ${file} is incomplete`, ExitCode.server, 'EXPORT_INCOMPLETE');
  progress?.finish(`${String(end['people'])} people, ${String(end['images'])} images`);
  print(
    server,
    { file: resolve(file), people: end['people'], images: end['images'] },
    () => `wrote ${resolve(file)}: ${String(end!['people'])} people, ${String(end!['images'])} images`,
  );
  return ExitCode.ok;
}

/** `import <file> [--on-conflict skip|replace] [--re-embed]`. */
export async function importArchive(server: Server, file: string, options: { onConflict: string; reEmbed: boolean }): Promise<number> {
  const size = (
    await stat(resolve(file)).catch(() => {
      throw new CliFailure(`cannot read ${file}`, ExitCode.usage, ErrorCode.INVALID_ARGUMENT);
    })
  ).size;
  const body = Readable.toWeb(createReadStream(resolve(file))) as unknown as RequestInit['body'];
  const res = await request(server, 'POST', `/admin/import?on_conflict=${encodeURIComponent(options.onConflict)}&re_embed=${options.reEmbed}`, {
    body,
    headers: { 'content-type': 'application/x-ndjson', 'content-length': String(size) },
    duplex: 'half',
  });
  let progress: Progress | undefined;
  let summary: Record<string, unknown> | undefined;
  let error: Record<string, unknown> | undefined;
  for await (const line of lines(res)) {
    if (line['header'])
      progress = new Progress('import', Number((line['header'] as { people?: number }).people ?? 0), process.stderr, server.json && process.stderr.isTTY !== true);
    else if (line['done']) summary = line;
    else if (line['error']) error = line['error'] as Record<string, unknown>;
    else progress?.tick();
  }
  if (!summary) throw new CliFailure('the import ended without a summary', ExitCode.server, 'IMPORT_INCOMPLETE');
  const rejected = (summary['rejected'] as { person: string; filename: string; code: string; message: string }[]) ?? [];
  progress?.finish(`${String(summary['imported'])} imported, ${String(summary['replaced'])} replaced, ${String(summary['skipped'])} skipped, ${rejected.length} refused`);
  print(server, { ...summary, ...(error ? { error } : {}) }, () =>
    [
      `${String(summary!['people'])} people: ${String(summary!['imported'])} imported, ${String(summary!['replaced'])} replaced, ${String(summary!['skipped'])} skipped; ${String(summary!['images'])} images`,
      ...rejected.map((r) => `  refused ${r.person} ${r.filename}: ${r.code} ${r.message}`),
      ...(error ? [`  stopped: ${String(error['code'])} ${String(error['message'])}`] : []),
    ].join('\n'),
  );
  return error || rejected.length > 0 ? ExitCode.partial : ExitCode.ok;
}

/** `reindex [--all] [--resume <time>]`. */
export async function reindex(server: Server, options: { all: boolean; resume: string | undefined }): Promise<number> {
  const res = await request(server, 'POST', '/admin/reindex', {
    body: JSON.stringify({ all: options.all, ...(options.resume ? { started_at: options.resume } : {}) }),
    headers: { 'content-type': 'application/json' },
  });
  let progress: Progress | undefined;
  let startedAt = '';
  let summary: Record<string, unknown> | undefined;
  let error: Record<string, unknown> | undefined;
  for await (const line of lines(res)) {
    if (line['started_at']) startedAt = String(line['started_at']);
    else if (line['done'] === true) summary = line;
    else if (line['error']) error = line['error'] as Record<string, unknown>;
    else if (typeof line['total'] === 'number') {
      progress ??= new Progress('reindex', line['total'], process.stderr, server.json && process.stderr.isTTY !== true);
      if (Number(line['done']) > 0) progress.tick();
    }
  }
  if (error || !summary)
    throw new CliFailure(
      `reindex stopped: ${error ? `${String(error['code'])} ${String(error['message'])}` : 'no summary'}; resume with --all --resume ${startedAt}`,
      ExitCode.server,
      'REINDEX_INCOMPLETE',
    );
  const rejected = (summary['rejected'] as { filename: string; code: string; message: string }[]) ?? [];
  progress?.finish(`${String(summary['reindexed'])} re-embedded, ${rejected.length} refused`);
  print(server, { started_at: startedAt, ...summary }, () =>
    [`${String(summary!['reindexed'])} reference images embedded again (run started ${startedAt})`, ...rejected.map((r) => `  refused ${r.filename}: ${r.code} ${r.message}`)].join(
      '\n',
    ),
  );
  return rejected.length > 0 ? ExitCode.partial : ExitCode.ok;
}

/** `replay --since <time> [--until] [--threshold] [--match-rate] [--review-rate] [--margin] [--apply]`. */
export async function replay(server: Server, body: Record<string, unknown>): Promise<number> {
  const report = await json<{
    results: number;
    faces: number;
    not_replayable: number;
    applied: boolean;
    changed: {
      image_id: string;
      face_index: number;
      identifier: string;
      from: { decision: string; person: string | null };
      to: { decision: string; person: string | null; detail: string };
    }[];
  }>(server, 'POST', '/admin/replay', body);
  print(server, report, () =>
    [
      `${report.results} results, ${report.faces} faces re-decided${report.not_replayable ? ` (${report.not_replayable} kept no scores)` : ''}: ${report.changed.length} would change${report.applied ? ' — applied' : ' (not applied; --apply stores them)'}`,
      ...report.changed.map(
        (c) =>
          `  ${c.image_id}#${c.face_index} ${c.identifier}: ${c.from.decision}${c.from.person ? ` ${c.from.person}` : ''} → ${c.to.decision}${c.to.person ? ` ${c.to.person}` : ''} (${c.to.detail})`,
      ),
    ].join('\n'),
  );
  return ExitCode.ok;
}

interface IndexBuild {
  storage: string;
  m: number;
  ef_construction: number;
}

const describeBuild = (b: IndexBuild | null | undefined): string => (b ? `HNSW ${b.storage}, m ${b.m}, ef_construction ${b.ef_construction}` : 'none');

/** `vector-index`: the index searched for the watch-list and how it is built. */
export async function showVectorIndex(server: Server): Promise<number> {
  const state = await json<{ model: string; vectors: number; kind: string; build: IndexBuild | null; configured: IndexBuild | null; ef_search: number | null }>(
    server,
    'GET',
    '/admin/vector-index',
  );
  print(server, state, () =>
    state.kind === 'exact'
      ? `${state.model}: ${state.vectors} vectors, searched exactly (SQLite: every vector compared)`
      : [
          `${state.model}: ${state.vectors} vectors, ${state.kind === 'hnsw' ? describeBuild(state.build) : 'no HNSW index (every row scanned)'}, ef_search ${String(state.ef_search)}`,
          `a rebuild without options builds: ${describeBuild(state.configured)}`,
        ].join('\n'),
  );
  return ExitCode.ok;
}

/**
 * `vector-index rebuild [--storage vector|halfvec] [--m n] [--ef-construction n] [--maintenance-work-mem 2GB]`:
 * the server builds a new HNSW index beside the one in use and switches to it; the bar follows
 * PostgreSQL's progress of the build, other phases print as lines.
 */
export async function rebuildVectorIndex(server: Server, body: Record<string, unknown>): Promise<number> {
  const res = await request(server, 'POST', '/admin/vector-index', { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
  const quiet = server.json && process.stderr.isTTY !== true;
  let progress: Progress | undefined;
  let phase = '';
  let summary: Record<string, unknown> | undefined;
  let error: Record<string, unknown> | undefined;
  for await (const line of lines(res)) {
    if (line['done'] === true) summary = line;
    else if (line['error']) error = line['error'] as Record<string, unknown>;
    else if (typeof line['phase'] === 'string') {
      const total = Number(line['total'] ?? 0);
      if (line['phase'] !== phase) {
        phase = line['phase'];
        progress?.finish();
        progress = undefined;
        if (/building/.test(phase) && total > 0) progress = new Progress(`vector-index: ${phase}`, total, process.stderr, quiet);
        else if (!quiet) process.stderr.write(`vector-index: ${phase}\n`);
      }
      progress?.set(Number(line['done'] ?? 0));
    }
  }
  progress?.finish();
  if (error || !summary) {
    throw new CliFailure(
      `vector-index rebuild stopped: ${error ? `${String(error['code'])} ${String(error['message'])}` : 'the answer ended early'}; the index in use is unchanged unless \`facewatch vector-index\` shows the new one`,
      ExitCode.server,
      String(error?.['code'] ?? 'REBUILD_INCOMPLETE'),
    );
  }
  print(
    server,
    summary,
    () =>
      `${String(summary!['vectors'])} vectors: ${describeBuild(summary!['before'] as IndexBuild | null)} → ${describeBuild(summary!['after'] as IndexBuild)} (built in ${Math.round(Number(summary!['build_ms']) / 1000)} s)`,
  );
  return ExitCode.ok;
}

/** `purge --older-than <days> [--alerts-older-than <days>]`. */
export async function purge(server: Server, body: Record<string, unknown>): Promise<number> {
  const report = await json<{ results: number; copies_removed: number; alerts: number }>(server, 'POST', '/admin/purge', body);
  print(server, report, () => `deleted ${report.results} results (${report.copies_removed} image copies) and ${report.alerts} alerts`);
  return ExitCode.ok;
}

/** `audit [--action a] [--actor n] [--since t] [--limit n]`. */
export async function audit(server: Server, query: Record<string, string | undefined>): Promise<number> {
  const q = new URLSearchParams(Object.entries(query).filter((e): e is [string, string] => e[1] !== undefined));
  const page = await json<{
    total_items: number;
    items: { seq: number; at: string; actor: string | null; source: string | null; action: string; target_type: string | null; target_id: string | null; details: unknown }[];
  }>(server, 'GET', `/audit?${q}`);
  print(server, page, () =>
    page.items.length === 0
      ? 'no entries'
      : page.items
          .map(
            (e) =>
              `${e.at}  ${e.actor ?? '-'}@${e.source ?? '-'}  ${e.action}${e.target_id ? ` ${e.target_type ?? ''} ${e.target_id}` : ''}${e.details ? `  ${JSON.stringify(e.details)}` : ''}`,
          )
          .join('\n'),
  );
  return ExitCode.ok;
}

export function failureFromError(err: unknown): CliFailure {
  if (err instanceof CliFailure) return err;
  if (err instanceof AppError) return new CliFailure(err.message, err.code === ErrorCode.INVALID_ARGUMENT ? ExitCode.usage : ExitCode.server, err.code);
  return new CliFailure((err as Error).message, ExitCode.server, ErrorCode.INTERNAL);
}
