// services/ingest: intake of images ("image received" events). The watched inbox folder so far.
export { startInboxWatcher, type InboxWatcher, type InboxWatcherOptions } from './inbox-watcher.js';
export { InboxSubfolder, isInboxCandidateName } from './inbox-folder.js';
export {
  processInboxFile,
  type ClaimedInboxFile,
  type ImageSubmitter,
  type IncompleteUpload,
  type InboxFailure,
  type InboxFileStore,
  type InboxOutcome,
} from './process-inbox-file.js';
