import { apiSuite } from '../test/api-suite.js';
import { startScaleProcesses } from '../test/launch.js';

// The embedded profile's HTTP API suite, unchanged, against the scale profile's processes.
apiSuite('scale profile (Kafka + PostgreSQL)', (env) => startScaleProcesses(env));
