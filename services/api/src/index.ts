export { buildApp, apiRoutes, buildOpenApi } from './app.js';
export { startApi, type ApiService, type ApiServiceOptions } from './api-service.js';
export type { ApiDeps, ApiSettings } from './deps.js';
export { httpStatus } from './http-errors.js';
export { Watchlist, type Upload, type Rejection, type WatchlistDeps } from './blacklist/watchlist.js';
export { BlacklistFolder } from './blacklist/blacklist-folder.js';
export { generateOpenApi, openApiFile } from './openapi-document.js';
export { signWebhook, verifyWebhook, WebhookHeader } from './webhooks/signature.js';
