import { apiSuite } from './api-suite.js';
import { startEmbeddedProcess } from './launch.js';

apiSuite('embedded profile', (env) => startEmbeddedProcess(env));
