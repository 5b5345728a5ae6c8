export { matchImage, type MatchImageDeps } from './match-image.js';
export { searchWatchlist, type WatchlistDeps, type WatchlistQuery } from './search-watchlist.js';
export { startMatcher, type MatcherOptions } from './matcher-service.js';
export { folderImageCopyStore } from './image-copy-store.js';
export type { FaceAnalyser, ImageCopyStore, ImageResolver } from './ports.js';
