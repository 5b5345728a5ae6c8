import { Kafka, logLevel, type Admin } from 'kafkajs';
import { metrics, type Logger } from '@facewatch/core';

/**
 * Samples how far consumer groups are behind their topics (high watermark − committed offset,
 * summed over partitions) into facewatch_consumer_lag_messages, every `intervalMs`. A partition
 * the group never committed counts from its low watermark. Failures are logged and retried at the
 * next sample: lag is a measurement, never a reason to stop.
 */
export async function startLagMonitor(
  options: { brokers: string[]; clientId: string; watched: { group: string; topic: string }[]; intervalMs?: number },
  log: Logger,
): Promise<{ close(): Promise<void> }> {
  const kafka = new Kafka({ clientId: options.clientId, brokers: options.brokers, logLevel: logLevel.NOTHING });
  const admin: Admin = kafka.admin();
  await admin.connect();
  const sample = async (): Promise<void> => {
    for (const { group, topic } of options.watched) {
      const [committed, latest] = await Promise.all([admin.fetchOffsets({ groupId: group, topics: [topic] }), admin.fetchTopicOffsets(topic)]);
      const committedBy = new Map((committed[0]?.partitions ?? []).map((p) => [p.partition, Number(p.offset)]));
      let lag = 0;
      for (const p of latest) {
        const c = committedBy.get(p.partition) ?? -1;
        lag += Math.max(0, Number(p.high) - (c < 0 ? Number(p.low) : c));
      }
      metrics.consumerLag.set({ group, topic }, lag);
    }
  };
  let running: Promise<void> = Promise.resolve();
  const timer = setInterval(() => {
    running = sample().catch((err: unknown) => log.warn({ err }, 'consumer lag could not be sampled'));
  }, options.intervalMs ?? 15_000);
  timer.unref();
  running = sample().catch((err: unknown) => log.warn({ err }, 'consumer lag could not be sampled'));
  return {
    async close() {
      clearInterval(timer);
      await running;
      await admin.disconnect();
    },
  };
}
