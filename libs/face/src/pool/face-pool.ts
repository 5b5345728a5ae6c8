import { Worker } from 'node:worker_threads';
import { AppError, appErrorFromJSON, ErrorCode, type DetectorName, type Logger } from '@facewatch/core';
import type { AnalyseOptions, AnalyseResult, PipelineSettings, SessionChoices } from '../pipeline.js';
import type { FromWorker, ToWorker, WorkerInit } from './messages.js';

// sharp's decodes and onnxruntime's async runs both wait in libuv's thread pool, which has 4
// threads unless told otherwise: 2 workers × 2 images in flight starved on it (39 img/s with 1.1
// cores busy against 88 img/s with 2 cores, bench:face). libuv reads the size when the pool first
// starts, which is after module evaluation in every facewatch entry point, so setting it here
// works; an operator's own value wins.
process.env['UV_THREADPOOL_SIZE'] ??= '8';

export interface FacePoolOptions {
  settings: PipelineSettings;
  /** Worker threads, each with its own ONNX sessions. */
  workers: number;
  /** Images one worker works on at once (decode of one overlaps inference of another). */
  tasksPerWorker: number;
  /** Tasks that may wait for a worker; beyond that `analyse` rejects with POOL_BUSY. */
  maxQueued: number;
  /** Detectors whose sessions are loaded at start (others load on first use). */
  warmDetectors?: DetectorName[];
  log?: Logger;
}

interface Task {
  id: number;
  bytes: ArrayBuffer;
  options: AnalyseOptions;
  resolve: (result: AnalyseResult) => void;
  reject: (err: AppError) => void;
}

interface Slot {
  worker: Worker;
  inFlight: Map<number, Task>;
  ready: boolean;
}

export interface PoolStats {
  workers: number;
  inFlight: number;
  queued: number;
  completed: number;
  failed: number;
}

/**
 * A pool of inference worker threads. The event loop of the caller only copies bytes in and
 * results out; decoding and every model run happen in the workers. The queue is bounded:
 * `analyse` rejects with POOL_BUSY (retryable) when it is full, and `waitForCapacity` lets a
 * stream consumer hold back instead. A worker that dies fails only its own tasks and is replaced.
 */
export class FacePool {
  private readonly slots: Slot[] = [];
  private readonly queue: Task[] = [];
  private readonly capacityWaiters: (() => void)[] = [];
  private readonly idleWaiters: (() => void)[] = [];
  private nextId = 1;
  private closing = false;
  private completed = 0;
  private failed = 0;
  #sessions: SessionChoices = {};

  private constructor(private readonly options: FacePoolOptions) {}

  /** Starts the workers and resolves once every one has loaded its models. */
  static async start(options: FacePoolOptions): Promise<FacePool> {
    const pool = new FacePool(options);
    try {
      await Promise.all(Array.from({ length: options.workers }, () => pool.spawn()));
    } catch (err) {
      await pool.close();
      throw err;
    }
    return pool;
  }

  get stats(): PoolStats {
    const inFlight = this.slots.reduce((n, s) => n + s.inFlight.size, 0);
    return { workers: this.slots.length, inFlight, queued: this.queue.length, completed: this.completed, failed: this.failed };
  }

  /** The graph optimisation level each model runs with, as the last worker to start chose it by timing. */
  get sessions(): SessionChoices {
    return this.#sessions;
  }

  /** Decodes the image and finds (and, with `embed`, embeds) every face. */
  analyse(bytes: Uint8Array, options: AnalyseOptions): Promise<AnalyseResult> {
    if (this.closing) return Promise.reject(new AppError(ErrorCode.POOL_CLOSED, 'the face pool is shutting down', { retryable: true }));
    if (this.queue.length >= this.options.maxQueued) {
      return Promise.reject(
        new AppError(ErrorCode.POOL_BUSY, `the face pool has ${this.queue.length} images waiting; try again shortly`, {
          details: { queued: this.queue.length },
        }),
      );
    }
    // own copy: the caller's buffer may be a view into a shared pool, and transfer detaches it
    const copy = new Uint8Array(bytes.byteLength);
    copy.set(bytes);
    return new Promise<AnalyseResult>((resolve, reject) => {
      this.queue.push({ id: this.nextId++, bytes: copy.buffer, options, resolve, reject });
      this.dispatch();
    });
  }

  /** Resolves when another `analyse` call would be queued without POOL_BUSY. */
  waitForCapacity(): Promise<void> {
    if (this.queue.length < this.options.maxQueued) return Promise.resolve();
    return new Promise((resolve) => this.capacityWaiters.push(resolve));
  }

  /** Resolves when nothing is queued or in flight. */
  whenIdle(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Stops accepting work, lets queued and in-flight images finish, then ends the workers. */
  async close(): Promise<void> {
    this.closing = true;
    await this.whenIdle();
    await Promise.all(this.slots.splice(0).map((s) => s.worker.terminate()));
  }

  private isIdle(): boolean {
    return this.queue.length === 0 && this.slots.every((s) => s.inFlight.size === 0);
  }

  private spawn(): Promise<void> {
    const init: WorkerInit = {
      settings: this.options.settings,
      warmDetectors: this.options.warmDetectors ?? [this.options.settings.defaultDetector],
      warmEmbedder: true,
    };
    const worker = new Worker(new URL('./worker.js', import.meta.url), { workerData: init });
    const slot: Slot = { worker, inFlight: new Map(), ready: false };
    this.slots.push(slot);
    return new Promise<void>((resolve, reject) => {
      worker.on('message', (message: FromWorker) => {
        switch (message.type) {
          case 'ready':
            slot.ready = true;
            this.#sessions = message.sessions;
            this.options.log?.debug({ sessions: message.sessions }, 'inference worker ready');
            resolve();
            this.dispatch();
            break;
          case 'fatal':
            reject(appErrorFromJSON(message.error));
            break;
          case 'result':
          case 'error':
            this.settle(slot, message);
            break;
        }
      });
      worker.on('error', (err) => {
        this.options.log?.error({ err }, 'inference worker failed');
        reject(new AppError(ErrorCode.INFERENCE_FAILED, `inference worker failed: ${err.message}`, { cause: err }));
      });
      worker.on('exit', (code) => this.onExit(slot, code));
    });
  }

  private settle(slot: Slot, message: Extract<FromWorker, { type: 'result' | 'error' }>): void {
    const task = slot.inFlight.get(message.id);
    if (!task) return;
    slot.inFlight.delete(message.id);
    if (message.type === 'result') {
      this.completed++;
      task.resolve(message.result);
    } else {
      this.failed++;
      task.reject(appErrorFromJSON(message.error));
    }
    this.dispatch();
  }

  private onExit(slot: Slot, code: number): void {
    const index = this.slots.indexOf(slot);
    if (index !== -1) this.slots.splice(index, 1);
    for (const task of slot.inFlight.values()) {
      this.failed++;
      task.reject(new AppError(ErrorCode.INFERENCE_FAILED, `the inference worker stopped (exit code ${code}) while processing this image`, { retryable: true }));
    }
    slot.inFlight.clear();
    if (!this.closing && slot.ready) {
      this.options.log?.warn({ code }, 'inference worker exited; starting a new one');
      this.spawn().catch((err: unknown) => this.options.log?.error({ err }, 'could not replace inference worker'));
    }
    this.dispatch();
  }

  private dispatch(): void {
    if (this.slots.length === 0 && (this.closing || this.queue.length > 0)) {
      // no worker left to serve the queue (all failed to start): fail fast instead of hanging
      for (const task of this.queue.splice(0)) {
        this.failed++;
        task.reject(new AppError(ErrorCode.INFERENCE_FAILED, 'no inference worker is running', { retryable: true }));
      }
    }
    while (this.queue.length > 0) {
      let best: Slot | undefined;
      for (const s of this.slots) {
        if (s.ready && s.inFlight.size < this.options.tasksPerWorker && (!best || s.inFlight.size < best.inFlight.size)) best = s;
      }
      if (!best) break;
      const task = this.queue.shift()!;
      best.inFlight.set(task.id, task);
      const message: ToWorker = { type: 'analyse', id: task.id, bytes: task.bytes, options: task.options };
      best.worker.postMessage(message, [task.bytes]);
    }
    while (this.capacityWaiters.length > 0 && this.queue.length < this.options.maxQueued) this.capacityWaiters.shift()!();
    if (this.isIdle()) while (this.idleWaiters.length > 0) this.idleWaiters.shift()!();
  }
}
