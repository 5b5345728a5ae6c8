import { parentPort, workerData } from 'node:worker_threads';
import sharp from 'sharp';
import { toAppError } from '@facewatch/core';
import { FacePipeline } from '../pipeline.js';
import type { FromWorker, SerialisedError, ToWorker, WorkerInit } from './messages.js';

// libvips: no operation cache (every image is new) and one thread per operation; parallelism comes
// from the pool's workers and the images in flight, not from threads inside one decode.
sharp.cache(false);
sharp.concurrency(1);

const init = workerData as WorkerInit;
const port = parentPort!;
const pipeline = new FacePipeline(init.settings);

const serialise = (err: unknown): SerialisedError => {
  const e = toAppError(err);
  return { code: e.code, message: e.message, retryable: e.retryable, ...(e.details ? { details: e.details } : {}) };
};
const send = (message: FromWorker, transfer: ArrayBuffer[] = []): void => port.postMessage(message, transfer);

port.on('message', (message: ToWorker) => {
  if (message.type !== 'analyse') return;
  pipeline.analyse(new Uint8Array(message.bytes), message.options).then(
    (result) => {
      const transfer = result.faces.flatMap((f) => [
        ...(f.embedding ? [f.embedding.buffer as ArrayBuffer] : []),
        ...(f.evidence ? [f.evidence.aligned.buffer as ArrayBuffer, f.evidence.context.buffer as ArrayBuffer] : []),
      ]);
      send({ type: 'result', id: message.id, result }, transfer);
    },
    (err: unknown) => send({ type: 'error', id: message.id, error: serialise(err) }),
  );
});

pipeline.warmUp(init.warmDetectors, init.warmEmbedder).then(
  (sessions) => send({ type: 'ready', sessions }),
  (err: unknown) => send({ type: 'fatal', error: serialise(err) }),
);
