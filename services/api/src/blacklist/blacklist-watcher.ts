import { relative, sep } from 'node:path';
import { watch } from 'chokidar';
import type { Logger } from '@facewatch/core';
import type { Watchlist } from './watchlist.js';

export interface BlacklistWatcher {
  close(): Promise<void>;
}

/**
 * Follows blacklist_db/ edited by hand: any change to a person's folder (files added, removed or
 * replaced; folders created or deleted) reconciles that folder within `debounceMs` after the
 * changes settle. A full reconcile runs at start, covering changes made while facewatch was down.
 */
export async function watchBlacklistFolder(root: string, watchlist: Watchlist, log: Logger, debounceMs = 500): Promise<BlacklistWatcher> {
  await watchlist.reconcile();
  const dirty = new Set<string>();
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<unknown> = Promise.resolve();

  const flush = (): void => {
    timer = undefined;
    const folders = [...dirty];
    dirty.clear();
    running = running.then(() => watchlist.reconcile(folders)).catch((err: unknown) => log.error({ err, folders }, 'blacklist_db reconcile failed'));
  };

  const watcher = watch(root, {
    ignoreInitial: true,
    depth: 1,
    ignored: (path: string) =>
      relative(root, path)
        .split(sep)
        .some((part) => part.startsWith('.')),
    awaitWriteFinish: { stabilityThreshold: 300, pollInterval: 100 },
  });
  watcher.on('all', (_event, path) => {
    const folder = relative(root, path).split(sep)[0];
    if (!folder || folder.startsWith('..')) return;
    dirty.add(folder);
    clearTimeout(timer);
    timer = setTimeout(flush, debounceMs);
  });
  watcher.on('error', (err) => log.error({ err }, 'blacklist_db watcher error'));
  await new Promise<void>((resolve) => watcher.once('ready', () => resolve()));

  return {
    async close() {
      await watcher.close();
      if (timer) flush();
      await running;
    },
  };
}
