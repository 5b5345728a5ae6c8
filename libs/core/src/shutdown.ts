import type { Logger } from './logger.js';

export interface ShutdownStep {
  name: string;
  /** Stops the component; awaited in registration order (stop intake first, close pools last). */
  close: () => Promise<void> | void;
}

export interface ShutdownOptions {
  log: Logger;
  /** How long the steps together may take before the process exits non-zero anyway. */
  forceAfterMs: number;
  signals?: NodeJS.Signals[];
  exit?: (code: number) => void;
}

/**
 * Registers an ordered shutdown on SIGINT/SIGTERM. Returns `shutdown()` so a composition root
 * can also trigger it itself (for example when a fatal error occurs).
 */
export function registerShutdown(steps: ShutdownStep[], options: ShutdownOptions): (reason: string) => Promise<void> {
  const exit = options.exit ?? ((code: number) => process.exit(code));
  let running: Promise<void> | undefined;

  const shutdown = (reason: string): Promise<void> => {
    if (running) return running;
    running = (async () => {
      options.log.info({ reason }, 'shutting down');
      const timer = setTimeout(() => {
        options.log.error({ forceAfterMs: options.forceAfterMs }, 'shutdown took too long, forcing exit');
        exit(1);
      }, options.forceAfterMs);
      timer.unref();
      let failed = false;
      for (const step of steps) {
        try {
          await step.close();
        } catch (err) {
          failed = true;
          options.log.error({ err, step: step.name }, 'shutdown step failed');
        }
      }
      clearTimeout(timer);
      options.log.info('shutdown complete');
      options.log.flush();
      exit(failed ? 1 : 0);
    })();
    return running;
  };

  for (const signal of options.signals ?? ['SIGINT', 'SIGTERM']) {
    process.once(signal, () => void shutdown(signal));
  }
  return shutdown;
}
