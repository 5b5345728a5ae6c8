import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { projectRoot } from '@facewatch/core';
import { fixturesDir } from '@facewatch/face/testing';

export interface RunningProfile {
  baseUrl: string;
  dirs: { data: string; blacklist: string; processed: string; inbox: string };
  /** Everything the process logged (stdout and stderr). */
  output: () => string;
  /** Stops the process (SIGTERM); its folders are removed unless `keep`. */
  stop(options?: { keep?: boolean }): Promise<number | null>;
  /** Kills the process at once (SIGKILL), keeping its folders; resolves when it is gone. */
  kill?(): Promise<void>;
  work: string;
  /** The scale profile's PostgreSQL schema. */
  pgSchema?: string;
}

export async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolvePort(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

/**
 * Starts `npm start`'s entry point (the embedded profile) as its own process, with its data in a
 * temporary folder (or `reuse.work`) and the fixtures as the allowed server-path root, and waits
 * until /ready.
 */
export async function startEmbeddedProcess(env: Record<string, string> = {}, reuse?: { work?: string; entry?: string }): Promise<RunningProfile> {
  const work = reuse?.work ?? mkdtempSync(join(tmpdir(), 'facewatch-e2e-'));
  const dirs = { data: join(work, 'data'), blacklist: join(work, 'blacklist_db'), processed: join(work, 'processed'), inbox: join(work, 'inbox') };
  Object.values(dirs).forEach((d) => mkdirSync(d, { recursive: true }));
  const port = await freePort();
  // `entry`: another script that ends up in main.js (the fake-AWS entry of the Rekognition tests)
  const child: ChildProcess = spawn(process.execPath, [resolve(projectRoot(), reuse?.entry ?? 'services/embedded/dist/main.js')], {
    cwd: projectRoot(),
    env: {
      ...process.env,
      LOG_LEVEL: 'info',
      PORT: String(port),
      HOST: '127.0.0.1',
      DATA_DIR: dirs.data,
      BLACKLIST_DB_PATH: dirs.blacklist,
      PROCESSED_IMAGES_OUTPUT_DIR: dirs.processed,
      INBOX_DIR: dirs.inbox,
      INBOX_STABLE_MS: '300',
      IMAGE_PATH_ROOTS: fixturesDir(),
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const baseUrl = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`facewatch exited with ${child.exitCode} before it was ready:\n${output}`);
    try {
      const res = await fetch(`${baseUrl}/api/v1/ready`);
      if (res.status === 200) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`facewatch was not ready within 60 s:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    baseUrl,
    dirs,
    output: () => output,
    work,
    async stop(options = {}) {
      if (child.exitCode === null) child.kill('SIGTERM');
      const code = await exited;
      if (!options.keep) rmSync(work, { recursive: true, force: true });
      return code;
    },
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}

/** Polls until `check` returns a value (not undefined), or fails after `timeoutMs`. */
export async function eventually<T>(check: () => Promise<T | undefined>, what: string, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/**
 * Starts the scale profile — api, one matcher and ingest as separate processes on the Kafka broker
 * and PostgreSQL of KAFKA_BROKERS / DATABASE_URL (scripts/services.sh), with unique topics and a
 * unique PostgreSQL schema — sharing the folders a single host would, and waits until it is ready.
 */
export async function startScaleProcesses(
  env: Record<string, string> = {},
  perService: Partial<Record<'api' | 'matcher' | 'ingest', Record<string, string>>> = {},
): Promise<RunningProfile> {
  const brokers = process.env['KAFKA_BROKERS'];
  const databaseUrl = process.env['DATABASE_URL'];
  if (!brokers || !databaseUrl) throw new Error('KAFKA_BROKERS and DATABASE_URL must be set (scripts/services.sh up)');
  const work = mkdtempSync(join(tmpdir(), 'facewatch-scale-api-'));
  const dirs = { data: join(work, 'data'), blacklist: join(work, 'blacklist_db'), processed: join(work, 'processed'), inbox: join(work, 'inbox') };
  Object.values(dirs).forEach((d) => mkdirSync(d, { recursive: true }));
  const port = await freePort();
  const run = randomUUID().slice(0, 8);
  const shared = {
    ...process.env,
    LOG_LEVEL: 'info',
    PORT: String(port),
    HOST: '127.0.0.1',
    PG_SCHEMA: `api_${run}`,
    KAFKA_TOPIC_IMAGES: `api-${run}.images`,
    KAFKA_TOPIC_RESULTS: `api-${run}.results`,
    KAFKA_TOPIC_MATCHES: `api-${run}.matches`,
    KAFKA_TOPIC_DLQ: `api-${run}.dlq`,
    KAFKA_PARTITIONS: '2',
    FACE_WORKERS: '1',
    BLACKLIST_DB_PATH: dirs.blacklist,
    PROCESSED_IMAGES_OUTPUT_DIR: dirs.processed,
    INBOX_DIR: dirs.inbox,
    INBOX_STABLE_MS: '300',
    IMAGE_PATH_ROOTS: fixturesDir(),
    ...env,
  };
  let output = '';
  const start = (service: 'api' | 'matcher' | 'ingest'): ChildProcess => {
    const child = spawn(process.execPath, [resolve(projectRoot(), `services/${service}/dist/main.js`)], {
      cwd: projectRoot(),
      env: { ...shared, ...perService[service] },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
    return child;
  };
  const api = start('api');
  const all = [api];
  const baseUrl = `http://127.0.0.1:${port}`;
  try {
    await eventually(
      async () => {
        if (api.exitCode !== null) throw new Error(`api exited ${api.exitCode}:\n${output}`);
        return (await fetch(`${baseUrl}/api/v1/ready`).catch(() => undefined))?.status === 200 ? true : undefined;
      },
      'api ready',
      120_000,
    );
    const others = [start('matcher'), start('ingest')];
    all.push(...others);
    await eventually(
      async () => {
        for (const c of others) if (c.exitCode !== null) throw new Error(`a service exited ${c.exitCode}:\n${output}`);
        return output.includes('matcher running') && output.includes('watching the inbox') ? true : undefined;
      },
      'matcher and ingest running',
      120_000,
    );
  } catch (err) {
    // a profile that did not start leaves no process behind (it would join other runs' groups)
    for (const c of all) if (c.exitCode === null) c.kill('SIGKILL');
    rmSync(work, { recursive: true, force: true });
    throw err;
  }
  return {
    baseUrl,
    dirs,
    work,
    pgSchema: shared.PG_SCHEMA,
    output: () => output,
    async stop(options = {}) {
      const exits = all.map((c) => (c.exitCode !== null ? Promise.resolve(c.exitCode) : new Promise<number | null>((r) => c.once('exit', (code) => r(code)))));
      for (const c of all) if (c.exitCode === null) c.kill('SIGTERM');
      const codes = await Promise.all(exits);
      if (!options.keep) rmSync(work, { recursive: true, force: true });
      return codes.every((c) => c === 0) ? 0 : (codes.find((c) => c !== 0) ?? null);
    },
  };
}

export interface ReceivedWebhook {
  headers: Record<string, string>;
  body: string;
  /** The status the receiver answered. */
  status: number;
}

export interface WebhookReceiver {
  url: string;
  port: number;
  requests: ReceivedWebhook[];
  /** Answers 503 to the next `n` requests. */
  failNext(n: number): void;
  close(): Promise<void>;
}

/** A local HTTP receiver for webhooks that records every request; on `port` when given (to reopen one). */
export async function startWebhookReceiver(port = 0): Promise<WebhookReceiver> {
  const { createServer: createHttpServer } = await import('node:http');
  const requests: ReceivedWebhook[] = [];
  let failures = 0;
  const server = createHttpServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (body += chunk));
    req.on('end', () => {
      const status = failures > 0 ? 503 : 200;
      if (failures > 0) failures--;
      requests.push({ headers: Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, String(v)])), body, status });
      res.statusCode = status;
      res.end(status === 200 ? 'ok' : 'busy');
    });
  });
  await new Promise<void>((resolveListen, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolveListen());
  });
  const address = server.address();
  const bound = typeof address === 'object' && address ? address.port : port;
  return {
    url: `http://127.0.0.1:${bound}/hook`,
    port: bound,
    requests,
    failNext: (n) => {
      failures = n;
    },
    close: () => new Promise((r) => server.close(() => r())),
  };
}

/** Reads Server-Sent Events from a fetch response: each call returns the next event (comments included as `comment`). */
export function sseReader(response: Response): { next(): Promise<{ id?: string; event?: string; data?: string; comment?: string }>; text(): string } {
  const reader = response.body!.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  let all = '';
  return {
    text: () => all,
    async next() {
      for (;;) {
        const end = buffer.indexOf('\n\n');
        if (end >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const event: { id?: string; event?: string; data?: string; comment?: string } = {};
          for (const line of block.split('\n')) {
            if (line.startsWith(':')) event.comment = line.slice(1).trim();
            else {
              const colon = line.indexOf(':');
              const field = line.slice(0, colon) as 'id' | 'event' | 'data';
              event[field] = line.slice(colon + 1).trimStart();
            }
          }
          return event;
        }
        const { value, done } = await reader.read();
        if (done) throw new Error('the event stream ended');
        const text = decoder.decode(value, { stream: true });
        buffer += text;
        all += text;
      }
    },
  };
}
