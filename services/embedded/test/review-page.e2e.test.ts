import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { chromium, type BrowserContext, type Locator, type Page } from 'playwright-core';
import { groupPhotos, identityImages } from '@facewatch/face/testing';
import { startEmbeddedProcess, type RunningProfile } from './launch.js';

// The review page in a real browser (Debian's Chromium through playwright-core, as /docs is
// tested): alerts and review-band faces listed apart, the probe face beside the reference, confirm
// and reject surviving a reload, a new alert arriving live, and a phone-sized screen.
// FACEWATCH_REVIEW_SCREENSHOTS=docs/images writes the README's screenshots; otherwise they go to a
// temporary folder whose path is logged.

const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
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
const chromiumInstalled = existsSync(chromiumPath);
function needChromium(): void {
  if (!chromiumInstalled) throw new Error(`Chromium not found at ${chromiumPath}: install it with \`apt-get install -y chromium\` (.ci/run does), or set CHROMIUM_PATH`);
}

let shotDir: string | undefined;
function screenshotPath(name: string): string {
  shotDir ??= process.env.FACEWATCH_REVIEW_SCREENSHOTS ?? mkdtempSync(join(tmpdir(), 'facewatch-review-'));
  mkdirSync(shotDir, { recursive: true });
  return join(shotDir, name);
}

let app: RunningProfile | undefined;
let context: BrowserContext | undefined;
let profileDir: string | undefined;
let page: Page;
const pageErrors: string[] = [];
const consoleErrors: string[] = [];
const badResponses: string[] = [];
const foreign: string[] = [];

async function processPhoto(file: string): Promise<void> {
  const group = groupPhotos().find((g) => g.file.endsWith(file))!;
  const res = await fetch(`${app!.baseUrl}/api/v1/process/process-images`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ images: [readFileSync(group.path).toString('base64')] }),
  });
  assert.equal(res.status, 200);
}

/** Both images of a card are loaded, non-empty pictures. */
async function imagesLoaded(card: Locator): Promise<void> {
  for (const selector of ['.probe img', '.reference img']) {
    const img = card.locator(selector);
    await img.evaluate((el: { complete: boolean; naturalWidth: number; naturalHeight: number; addEventListener(type: string, fn: (v: unknown) => void, options: object): void }) =>
      el.complete && el.naturalWidth > 0 ? undefined : new Promise((r) => el.addEventListener('load', r, { once: true })),
    );
    const size = await img.evaluate(
      (el: { complete: boolean; naturalWidth: number; naturalHeight: number; addEventListener(type: string, fn: (v: unknown) => void, options: object): void }) => [
        el.naturalWidth,
        el.naturalHeight,
      ],
    );
    assert.ok(size[0]! > 0 && size[1]! > 0, `${selector} is ${size.join('×')}`);
  }
}

describe('review page at /review in Chromium', { timeout: 240_000 }, () => {
  before(async () => {
    if (!chromiumInstalled) return;
    // a strict alert rate for 8 people, so bbt1 gives one alert (Howard) and review-band faces
    app = await startEmbeddedProcess({ MATCH_FALSE_ALERT_RATE: '0.0001' });
    for (const person of [...new Set(identityImages().map((i) => i.person))]) {
      const form = new FormData();
      form.append('name', person);
      for (const img of identityImages().filter((i) => i.person === person)) form.append('images', new Blob([readFileSync(img.path)]), img.file);
      await fetch(`${app.baseUrl}/api/v1/blacklist/`, { method: 'POST', body: form });
    }
    await processPhoto('bbt1.jpg');
    profileDir = mkdtempSync(join(tmpdir(), 'facewatch-chromium-'));
    context = await chromium.launchPersistentContext(profileDir, {
      executablePath: chromiumPath,
      headless: true,
      args: chromiumFlags,
      viewport: { width: 1280, height: 900 },
      timeout: 60_000,
    });
    page = context.pages()[0] ?? (await context.newPage());
    page.setDefaultTimeout(30_000);
    const origin = new URL(app.baseUrl).origin;
    page.on('request', (r) => {
      const url = r.url();
      if (!url.startsWith('blob:') && !url.startsWith('data:') && new URL(url).origin !== origin) foreign.push(url);
    });
    page.on('response', (r) => {
      if (r.status() >= 400) badResponses.push(`${r.status()} ${r.url()}`);
    });
    page.on('pageerror', (e) => pageErrors.push(String(e.stack ?? e)));
    page.on('console', (m) => {
      if (m.type() === 'error') consoleErrors.push(m.text());
    });
  });

  after(async () => {
    await context?.close();
    if (profileDir) rmSync(profileDir, { recursive: true, force: true });
    if (app) assert.equal(await app.stop(), 0);
  });

  test('alerts and review-band faces are listed apart, each with the probe face beside the reference', async (t) => {
    needChromium();
    const res = await page.goto(`${app!.baseUrl}/review`, { waitUntil: 'load' });
    assert.equal(res?.status(), 200);
    assert.equal(await page.title(), 'facewatch review');
    const alert = page.locator('#alerts .card').first();
    await alert.waitFor();
    await page.locator('#review-band .card').first().waitFor();
    assert.equal(await page.locator('#alerts .card').count(), 1);
    assert.ok((await page.locator('#review-band .card').count()) >= 2);
    assert.equal(await page.locator('#alerts .card[data-decision="review"]').count(), 0, 'no review-band face among the alerts');
    assert.equal(await page.locator('#review-band .card[data-decision="match"]').count(), 0, 'no alert in the review band');
    assert.equal(await alert.locator('.name').textContent(), 'howard');
    assert.match((await alert.locator('.decision').textContent()) ?? '', /^alert · score 0\.\d+ · 1 in [\d,]+ strangers score this high$/);
    assert.match((await alert.locator('.detail').textContent()) ?? '', /^match_threshold: score/);
    assert.match((await page.locator('#review-band .card .detail').first().textContent()) ?? '', /^review_band: score/);
    await imagesLoaded(alert);
    await imagesLoaded(page.locator('#review-band .card').first());
    await page.locator('#live.on').waitFor();
    const shot = screenshotPath('review-desktop.png');
    await page.screenshot({ path: shot, fullPage: true });
    t.diagnostic(`review page screenshot: ${shot}`);
  });

  test('confirm and reject are stored and survive a reload', async () => {
    needChromium();
    const alert = page.locator('#alerts .card').first();
    const alertId = await alert.getAttribute('data-alert-id');
    await alert.locator('.note').fill('seen at the door');
    await alert.locator('button.confirm').click();
    await page.locator(`.card[data-alert-id="${alertId}"][data-status="confirmed"]`).waitFor();
    const review = page.locator('#review-band .card').first();
    const reviewId = await review.getAttribute('data-alert-id');
    await review.locator('button.reject').click();
    await page.locator(`.card[data-alert-id="${reviewId}"][data-status="rejected"]`).waitFor();

    await page.reload({ waitUntil: 'load' });
    await page.locator('#review-band .card').first().waitFor();
    // the default filter shows what is left to review: the two verdicts are gone from it
    assert.equal(await page.locator(`.card[data-alert-id="${alertId}"]`).count(), 0);
    assert.equal(await page.locator(`.card[data-alert-id="${reviewId}"]`).count(), 0);
    await page.selectOption('#filters [name=review_status]', '');
    const confirmed = page.locator(`.card[data-alert-id="${alertId}"]`);
    await confirmed.waitFor();
    assert.equal(await confirmed.getAttribute('data-status'), 'confirmed');
    assert.match((await confirmed.locator('.verdict').textContent()) ?? '', /^confirmed: seen at the door/);
    assert.equal(await confirmed.locator('button.confirm').isDisabled(), true);
    assert.equal(await page.locator(`.card[data-alert-id="${reviewId}"]`).getAttribute('data-status'), 'rejected');
    const stored = (await (await fetch(`${app!.baseUrl}/api/v1/alerts/${alertId}`)).json()) as { review: { status: string } };
    assert.equal(stored.review.status, 'confirmed');
  });

  test('a new alert appears live, without a reload', async () => {
    needChromium();
    await page.locator('#live.on').waitFor();
    const before = await page.locator('#alerts .card').count();
    await processPhoto('bbt4.jpg');
    await page.waitForFunction(`document.querySelectorAll('#alerts .card').length > ${before}`);
    await page.locator('#alerts .card.new').first().waitFor();
  });

  test('on a phone-sized screen the cards stack in one column', async (t) => {
    needChromium();
    await page.setViewportSize({ width: 390, height: 844 });
    await page.reload({ waitUntil: 'load' });
    const first = page.locator('#alerts .card').first();
    await first.waitFor();
    await imagesLoaded(first);
    const [alerts, review] = await Promise.all([page.locator('#alerts-section').boundingBox(), page.locator('#review-section').boundingBox()]);
    assert.ok(alerts && review && review.y >= alerts.y + alerts.height - 1, 'the review band sits below the alerts');
    assert.ok(alerts!.width <= 390, 'nothing wider than the screen');
    const shot = screenshotPath('review-phone.png');
    await page.screenshot({ path: shot, fullPage: false });
    t.diagnostic(`phone screenshot: ${shot}`);
  });

  test('the page used only this server and logged no errors', () => {
    needChromium();
    assert.deepEqual(foreign, []);
    assert.deepEqual(badResponses, []);
    assert.deepEqual(pageErrors, []);
    assert.deepEqual(consoleErrors, []);
  });
});
