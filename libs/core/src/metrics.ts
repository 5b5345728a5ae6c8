import { createServer, type Server } from 'node:http';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Logger } from './logger.js';

/**
 * Prometheus metrics of one process (`GET /metrics` on the API; METRICS_PORT serves them from the
 * matcher and ingest processes of the scale profile). One registry per process; services record
 * into the metrics below, never create their own. docs/metrics.md lists them.
 */
export const metricsRegistry = new Registry();
collectDefaultMetrics({ register: metricsRegistry, prefix: 'facewatch_' });

const seconds = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

type Provider = () => number | Promise<number>;
const providers = new Map<string, Provider>();
/** A gauge whose value is asked for at scrape time from whatever registered a provider (absent: not reported). */
function providedGauge(name: string, help: string): Gauge {
  return new Gauge({
    name,
    help,
    registers: [metricsRegistry],
    async collect() {
      const provider = providers.get(name);
      if (provider) this.set(await provider());
    },
  });
}

export const metrics = {
  /** Time per stage of one image: decode, detect, align, embed (inference workers), search, persist, publish (matcher). */
  stageSeconds: new Histogram({
    name: 'facewatch_stage_duration_seconds',
    help: 'Time spent per pipeline stage and image',
    labelNames: ['stage'] as const,
    buckets: seconds,
    registers: [metricsRegistry],
  }),
  imagesProcessed: new Counter({
    name: 'facewatch_images_processed_total',
    help: 'Images processed, by source and outcome (ok, error)',
    labelNames: ['source', 'outcome'] as const,
    registers: [metricsRegistry],
  }),
  facesProcessed: new Counter({
    name: 'facewatch_faces_processed_total',
    help: 'Faces decided, by decision (match, review, unknown)',
    labelNames: ['decision'] as const,
    registers: [metricsRegistry],
  }),
  alerts: new Counter({
    name: 'facewatch_alerts_total',
    help: 'Alerts and review items stored, by decision (match, review)',
    labelNames: ['decision'] as const,
    registers: [metricsRegistry],
  }),
  webhookDeliveries: new Counter({
    name: 'facewatch_webhook_deliveries_total',
    help: 'Webhook delivery attempts, by outcome (delivered, retry, failed)',
    labelNames: ['outcome'] as const,
    registers: [metricsRegistry],
  }),
  httpRequests: new Histogram({
    name: 'facewatch_http_request_duration_seconds',
    help: 'HTTP API requests, by method, route and status',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: seconds,
    registers: [metricsRegistry],
  }),
  poolQueued: providedGauge('facewatch_inference_queue_depth', 'Images waiting for an inference worker'),
  poolInFlight: providedGauge('facewatch_inference_in_flight', 'Images being worked on by the inference workers'),
  inboxPending: providedGauge('facewatch_inbox_pending_files', 'Files in the watched folder not yet taken or still waiting for their result'),
  outboxPending: providedGauge('facewatch_webhook_outbox_pending', 'Webhook deliveries not yet delivered or given up'),
  consumerLag: new Gauge({
    name: 'facewatch_consumer_lag_messages',
    help: 'Messages of a topic not yet consumed by a consumer group (scale profile)',
    labelNames: ['group', 'topic'] as const,
    registers: [metricsRegistry],
  }),
  sseClients: providedGauge('facewatch_alert_stream_clients', 'Clients connected to the live alert stream'),
};

/** Registers what a provided gauge reports (the last registration wins). */
export function provideGauge(gauge: Gauge, provider: Provider): void {
  providers.set((gauge as unknown as { name: string }).name, provider);
}

/** Times `work` into the stage histogram. */
export async function timed<T>(stage: string, work: () => Promise<T>): Promise<T> {
  const end = metrics.stageSeconds.startTimer({ stage });
  try {
    return await work();
  } finally {
    end();
  }
}

/** The metrics in Prometheus text format. */
export async function metricsText(): Promise<{ contentType: string; body: string }> {
  return { contentType: metricsRegistry.contentType, body: await metricsRegistry.metrics() };
}

/**
 * Serves GET /metrics on its own port (processes without the HTTP API: matcher, ingest). Bound to
 * `host`; anything else is 404.
 */
export async function serveMetrics(port: number, host: string, log: Logger): Promise<Server> {
  const server = createServer((req, res) => {
    if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') {
      res.statusCode = 404;
      res.end();
      return;
    }
    metricsText().then(
      ({ contentType, body }) => {
        res.setHeader('content-type', contentType);
        res.end(body);
      },
      (err: unknown) => {
        log.warn({ err }, 'metrics could not be collected');
        res.statusCode = 500;
        res.end();
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  log.info({ port, host }, 'metrics on /metrics');
  return server;
}
