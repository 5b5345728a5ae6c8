import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createLogger, Topic } from '@facewatch/core';
import { KafkaBus } from '@facewatch/kafka';
import { eventBusContract } from '@facewatch/core/testing';

// The scale profile's bus against the contract every EventBus keeps (the in-process bus runs the
// same suite in test/), on a real broker and schema registry: each test on topics of its own.
const brokers = process.env['KAFKA_BROKERS'];
assert.ok(brokers, 'KAFKA_BROKERS is not set: start the services (scripts/services.sh up) — these tests never skip');

eventBusContract('Kafka', async () => {
  const run = randomUUID().slice(0, 8);
  const bus = await KafkaBus.start({
    brokers: brokers.split(','),
    clientId: `contract-${run}`,
    log: createLogger({ level: 'silent' }),
    topicNames: {
      [Topic.imageReceived]: `c-${run}.images`,
      [Topic.imageProcessed]: `c-${run}.results`,
      [Topic.faceMatched]: `c-${run}.matches`,
      [Topic.deadLetter]: `c-${run}.dlq`,
    },
    partitions: 3,
    replicationFactor: 1,
    maxMessageBytes: 4 * 1024 * 1024,
    retryInitialMs: 50,
    retryMaxMs: 200,
    ...(process.env['SCHEMA_REGISTRY_URL'] ? { registryUrl: process.env['SCHEMA_REGISTRY_URL'] } : {}),
  });
  return { bus, cleanup: () => bus.close() };
});
