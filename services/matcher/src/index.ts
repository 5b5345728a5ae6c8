export { matchImage, type MatchImageDeps } from './match-image.js';
export { describeFace } from './describe-face.js';
export { startMatcher, type MatcherOptions } from './matcher-service.js';
export { folderImageCopyStore } from './image-copy-store.js';
export type { ImageCopyStore, ImageResolver } from './ports.js';
