import { rm } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { Logger } from '@facewatch/core';
import type { Store } from '@facewatch/db';

export interface PurgeReport {
  results: number;
  copies_removed: number;
  alerts: number;
}

/**
 * Deletes results processed before `resultsBefore` with their faces, matches and evidence crops,
 * and their image copies in processed_images_output/ (on this machine), and alerts of results
 * processed before `alertsBefore`. Either cut may be left out.
 */
export async function purgeOld(deps: { store: Store; processedDir: string }, cut: { resultsBefore?: string | undefined; alertsBefore?: string | undefined }): Promise<PurgeReport> {
  const report: PurgeReport = { results: 0, copies_removed: 0, alerts: 0 };
  if (cut.resultsBefore) {
    const { results, copies } = await deps.store.processed.purge(cut.resultsBefore);
    report.results = results;
    for (const copy of copies) {
      // stored_image_path names a file in processed_images_output/: only its base name is used
      await rm(join(deps.processedDir, basename(copy)), { force: true });
      report.copies_removed++;
    }
  }
  if (cut.alertsBefore) report.alerts = await deps.store.alerts.purge(cut.alertsBefore);
  return report;
}

const day = 86_400_000;

/**
 * The scheduled purge (RETENTION_DAYS, ALERT_RETENTION_DAYS): at start and every `intervalMs`,
 * logged and recorded in the audit log as the service's. Nothing runs when neither is set.
 */
export function startRetention(
  deps: { store: Store; processedDir: string; log: Logger },
  settings: { retentionDays: number | undefined; alertRetentionDays: number | undefined; intervalMs: number },
): { stop(): Promise<void> } {
  if (settings.retentionDays === undefined && settings.alertRetentionDays === undefined) return { stop: async () => undefined };
  let running: Promise<void> = Promise.resolve();
  const run = (): void => {
    running = (async () => {
      const now = Date.now();
      const cut = {
        resultsBefore: settings.retentionDays === undefined ? undefined : new Date(now - settings.retentionDays * day).toISOString(),
        alertsBefore: settings.alertRetentionDays === undefined ? undefined : new Date(now - settings.alertRetentionDays * day).toISOString(),
      };
      const report = await purgeOld(deps, cut);
      if (report.results + report.alerts > 0) {
        deps.log.info({ ...report, ...cut }, 'retention: old results and alerts deleted');
        await deps.store.audit.append({
          at: new Date().toISOString(),
          actor: 'service',
          source: 'retention',
          action: 'retention.purge',
          target_type: null,
          target_id: null,
          details: { ...report, ...cut },
        });
      }
    })().catch((err: unknown) => deps.log.warn({ err }, 'retention purge failed; retrying at the next run'));
  };
  const timer = setInterval(run, settings.intervalMs);
  timer.unref();
  run();
  return {
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}
