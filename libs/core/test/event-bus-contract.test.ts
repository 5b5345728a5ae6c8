import { createLogger, InProcessBus } from '@facewatch/core';
import { eventBusContract } from '@facewatch/core/testing';

// The embedded profile's bus against the contract every EventBus keeps (the Kafka bus runs the
// same suite in test-kafka).
eventBusContract('in-process', async () => {
  const bus = new InProcessBus(createLogger({ level: 'silent' }));
  return { bus, cleanup: () => bus.close() };
});
