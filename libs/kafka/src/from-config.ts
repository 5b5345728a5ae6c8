import { AppError, ErrorCode, Topic, type AppConfig, type Logger } from '@facewatch/core';
import { defaultClientId, KafkaBus } from './kafka-bus.js';

/** The scale profile needs a broker list and a database: CONFIG_INVALID naming what is missing. */
export function requireScaleProfile(config: AppConfig, service: string): { brokers: string[]; databaseUrl: string } {
  const missing = [config.scale.kafka.brokers.length === 0 ? 'KAFKA_BROKERS' : undefined, config.scale.databaseUrl ? undefined : 'DATABASE_URL'].filter(Boolean);
  if (missing.length > 0) {
    throw new AppError(
      ErrorCode.CONFIG_INVALID,
      `the ${service} service alone runs on Kafka and PostgreSQL: set ${missing.join(' and ')} (or run everything in one process with \`npm start\`)`,
    );
  }
  return { brokers: config.scale.kafka.brokers, databaseUrl: config.scale.databaseUrl! };
}

/** The Kafka bus as configured (topic names, partitions, registry). */
export function startKafkaBus(config: AppConfig, service: string, log: Logger): Promise<KafkaBus> {
  const k = config.scale.kafka;
  return KafkaBus.start({
    brokers: k.brokers,
    clientId: defaultClientId(service),
    log: log.child({ component: 'kafka' }),
    topicNames: {
      [Topic.imageReceived]: k.topics.images,
      [Topic.imageProcessed]: k.topics.results,
      [Topic.faceMatched]: k.topics.matches,
      [Topic.deadLetter]: k.topics.deadLetter,
    },
    partitions: k.partitions,
    replicationFactor: k.replicationFactor,
    // an image travels inline up to MAX_IMAGE_BYTES; base64 and the envelope add a third
    maxMessageBytes: Math.ceil(config.face.decode.maxBytes * 1.4) + 64 * 1024,
    registryUrl: k.registryUrl,
  });
}
