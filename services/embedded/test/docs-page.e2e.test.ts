import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { startEmbeddedProcess, type RunningProfile } from './launch.js';

// End-to-end in a real browser: the embedded profile as its own process (`npm start`'s entry
// point), and Debian's Chromium, driven by playwright-core, opening the Swagger UI at /docs as a
// person would: the operations render from /openapi.json, every asset comes from the server itself
// (no CDN), and "Try it out" on the health operation calls the running server.
//
// Chromium is required, not optional: without it this test fails and says how to install it
// (`.ci/run` installs it). CHROMIUM_PATH overrides /usr/bin/chromium. Screenshots of the rendered
// page and of the executed request go to a temporary folder whose paths are logged.

const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
// the flags known to work on this machine: without the background-networking ones Chromium tries
// to reach Google's hosts through a closed network at every start
const chromiumFlags = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

let app: RunningProfile | undefined;
let context: BrowserContext | undefined;
let profileDir: string | undefined;
let page: Page;
let origin: string;
const requests: string[] = [];
const failedRequests: string[] = [];
const badResponses: string[] = [];
const pageErrors: string[] = [];
const consoleErrors: string[] = [];

let shotDir: string | undefined;
/** Where a screenshot goes: a temporary folder (FACEWATCH_DOCS_SCREENSHOTS sets it), kept for a person to look at. */
function screenshotPath(name: string): string {
  shotDir ??= process.env.FACEWATCH_DOCS_SCREENSHOTS ?? mkdtempSync(join(tmpdir(), 'facewatch-docs-'));
  return join(shotDir, name);
}

const chromiumInstalled = existsSync(chromiumPath);
/** Fails the calling test (a failure, not a skip) when there is no Chromium to run it in. */
function needChromium(): void {
  if (!chromiumInstalled) {
    throw new Error(
      `Chromium not found at ${chromiumPath}: this end-to-end test needs a real browser. ` +
        'Install it with `apt-get install -y chromium` (Debian; .ci/run does this), or set CHROMIUM_PATH to a Chromium binary.',
    );
  }
}

const isFavicon = (url: string): boolean => /\/favicon[^/]*$/.test(new URL(url).pathname);

/** Method and path of every operation block Swagger UI rendered, as shown on the page. */
async function renderedOperations(): Promise<string[]> {
  return page.locator('.opblock').evaluateAll((blocks) =>
    blocks.map((b) => {
      const text = (selector: string): string => (b.querySelector(selector)?.textContent ?? '').replace(/[\u200b\s]+/g, '');
      return `${text('.opblock-summary-method')} ${text('.opblock-summary-path')}`;
    }),
  );
}

describe('Swagger UI at /docs in Chromium', { timeout: 180_000 }, () => {
  before(async () => {
    if (!chromiumInstalled) return; // every test fails with how to install it
    app = await startEmbeddedProcess();
    origin = new URL(app.baseUrl).origin;
    profileDir = mkdtempSync(join(tmpdir(), 'facewatch-chromium-'));
    context = await chromium.launchPersistentContext(profileDir, {
      executablePath: chromiumPath,
      headless: true,
      args: chromiumFlags,
      viewport: { width: 1280, height: 1600 },
      timeout: 60_000,
    });
    page = context.pages()[0] ?? (await context.newPage());
    page.setDefaultTimeout(30_000);
    page.on('request', (r) => requests.push(r.url()));
    page.on('requestfailed', (r) => failedRequests.push(`${r.method()} ${r.url()}: ${r.failure()?.errorText ?? 'failed'}`));
    page.on('response', (r) => {
      if (r.status() >= 400 && !isFavicon(r.url())) badResponses.push(`${r.status()} ${r.request().method()} ${r.url()}`);
    });
    page.on('pageerror', (e) => pageErrors.push(String(e.stack ?? e)));
    page.on('console', (m) => {
      if (m.type() !== 'error') return;
      const url = m.location().url;
      if ((url && isFavicon(url)) || /favicon/i.test(m.text())) return;
      consoleErrors.push(`${m.text()} (${url || 'no location'})`);
    });
  });

  after(async () => {
    await context?.close();
    if (profileDir) rmSync(profileDir, { recursive: true, force: true });
    if (app) {
      const code = await app.stop();
      assert.equal(code, 0, 'facewatch stops cleanly on SIGTERM');
    }
  });

  test('renders every operation of the OpenAPI document from the server alone', async (t) => {
    needChromium();
    const res = await page.goto(`${app!.baseUrl}/docs`, { waitUntil: 'load' });
    assert.equal(res?.status(), 200);
    assert.equal(await page.title(), 'facewatch API');
    const spec = (await (await fetch(`${app!.baseUrl}/openapi.json`)).json()) as { paths: Record<string, Record<string, unknown>> };
    const expected = Object.entries(spec.paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`));
    // the info block shows the document's title once Swagger UI has fetched /openapi.json and
    // rendered it; then wait (bounded) for one operation block per operation
    await page.locator('.info .title').filter({ hasText: 'facewatch API' }).waitFor();
    await page.waitForFunction(`document.querySelectorAll('.opblock').length === ${expected.length}`);
    const shown = await renderedOperations();
    for (const op of ['POST /api/v1/process/process-images', 'POST /api/v1/blacklist', 'GET /api/v1/processed-images', 'GET /api/v1/']) {
      assert.ok(shown.includes(op), `operation block "${op}" is rendered; rendered: ${shown.join(', ')}`);
    }
    assert.deepEqual([...shown].sort(), expected.sort(), 'one operation block per operation of /openapi.json');

    const shot = screenshotPath('docs.png');
    await page.screenshot({ path: shot, fullPage: true });
    t.diagnostic(`docs page screenshot: ${shot}`);
  });

  test('"Try it out" on GET /api/v1/ calls the running server and shows its 200 answer', async (t) => {
    needChromium();
    const block = page.locator('.opblock.opblock-get').filter({ has: page.locator('.opblock-summary-path[data-path="/api/v1/"]') });
    await block.locator('.opblock-summary').first().click();
    await block.getByRole('button', { name: 'Try it out' }).click();
    const answered = page.waitForResponse((r) => r.url() === `${origin}/api/v1/` && r.request().method() === 'GET');
    await block.getByRole('button', { name: 'Execute' }).click();
    const response = await answered;
    assert.equal(response.status(), 200);
    assert.equal(((await response.json()) as { status: string }).status, 'ok');

    const live = block.locator('.live-responses-table');
    await live.locator('.response-col_status', { hasText: '200' }).waitFor();
    const body = live.locator('.response-col_description pre').filter({ hasText: '"ok"' }).first();
    await body.waitFor();
    assert.match((await body.textContent()) ?? '', /"status":\s*"ok"/);
    assert.equal((await block.locator('.request-url pre').textContent())?.trim(), `${origin}/api/v1/`);
    const shot = screenshotPath('try-it-out.png');
    await block.screenshot({ path: shot });
    t.diagnostic(`"Try it out" screenshot: ${shot}`);
  });

  test('no request left the test server, none failed, and the page logged no errors', () => {
    needChromium();
    for (const path of ['/docs', '/docs/swagger-ui.css', '/docs/swagger-ui-bundle.js', '/docs/swagger-init.js', '/openapi.json', '/api/v1/']) {
      assert.ok(requests.includes(`${origin}${path}`), `the page requested ${path}; requested: ${requests.join(', ')}`);
    }
    const foreign = requests.filter((u) => !u.startsWith('data:') && !u.startsWith('blob:') && new URL(u).origin !== origin);
    assert.deepEqual(foreign, [], 'every request goes to the test server (no CDN)');
    assert.deepEqual(failedRequests, [], 'no request failed');
    assert.deepEqual(badResponses, [], 'no request answered with an error status (favicon aside)');
    assert.deepEqual(pageErrors, [], 'no uncaught page errors');
    assert.deepEqual(consoleErrors, [], 'no console errors (favicon aside)');
  });
});
