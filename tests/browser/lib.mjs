// Shared pieces of the browser journeys: starting Chromium, checking every page with axe-core,
// keyboard-only helpers, security codes, screenshots, and the report printed when a journey fails.
//
// Run by tests/web/browser.rs (part of `cargo test`), which starts a real `haven serve` against a
// fresh database, makes the accounts with `haven create-user`, and passes their details here.

import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';

export const BASE = process.env.HAVEN_BROWSER_BASE_URL;
export const OUT = process.env.HAVEN_BROWSER_OUT;
export const PASSWORD = process.env.HAVEN_BROWSER_PASSWORD;
const AXE = fs.readFileSync(new URL('./vendor/axe.min.js', import.meta.url), 'utf8');

// WCAG 2.0, 2.1 and 2.2, levels A and AA: the legal bar for public services.
const WCAG_TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22a', 'wcag22aa'];

export async function launch() {
  return chromium.launch({
    executablePath: process.env.HAVEN_CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/// What a journey needs: its own browser context (cookies), the page, and a record of checks.
export class Visit {
  constructor(journey, browser, context, page, log) {
    this.journey = journey;
    this.browser = browser;
    this.context = context;
    this.page = page;
    this.log = log;
    this.js = true;
    this.helperPage = null;
  }

  /// A page with JavaScript on, beside this journey, where axe-core checks pages that were
  /// shown with JavaScript off (axe needs timers, which do not run in such a page).
  async helper() {
    if (!this.helperPage) {
      const context = await this.browser.newContext({ viewport: this.page.viewportSize() });
      this.helperPage = await context.newPage();
      await this.helperPage.route(`${BASE}/__axe_static__`, async (route) =>
        route.fulfill({ status: 200, contentType: 'text/html; charset=utf-8', body: this.staticHtml }));
    }
    return this.helperPage;
  }

  /// Go to a path and check the page.
  async goto(pathname, label) {
    await this.page.goto(BASE + pathname);
    await this.check(label);
  }

  /// Check the page now shown: no server error, and no accessibility violations.
  /// The current page on a 375-pixel-wide phone: no sideways scrolling, and axe again at that
  /// width; then back to the width it had.
  async fitsPhone(label) {
    const page = this.page;
    const before = page.viewportSize();
    await page.setViewportSize({ width: 375, height: 800 });
    const wide = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    if (wide > 0) {
      throw new Error(`${label}: the page is ${wide}px wider than a 375px phone`);
    }
    await this.check(`${label} (375px)`);
    if (before) await page.setViewportSize(before);
  }

  async check(label) {
    const page = this.page;
    const title = await page.title();
    if (/Sorry, something went wrong/.test(title)) {
      throw new Error(`${label}: the server answered with its error page`);
    }
    if (this.js) {
      await axe(page, `${this.journey}: ${label}`);
    } else {
      // The page exactly as served (nothing ran on it), checked on the same origin so its
      // stylesheet applies; its scripts are left out so they cannot change it first.
      this.staticHtml = (await page.content()).replace(/<script\b[\s\S]*?<\/script>/gi, '');
      const helper = await this.helper();
      await helper.goto(`${BASE}/__axe_static__`);
      await axe(helper, `${this.journey}: ${label} (JavaScript off)`);
    }
    // Every page state also fits a 375-pixel-wide phone: nothing scrolls sideways.
    const before = page.viewportSize();
    if (before && before.width !== 375) {
      await page.setViewportSize({ width: 375, height: before.height });
      const wide = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      await page.setViewportSize(before);
      if (wide > 0) throw new Error(`${label}: the page is ${wide}px wider than a 375px phone`);
    }
    this.log.pages.add(label + (this.js ? '' : ' (JavaScript off)'));
  }

  /// Save a screenshot of the page for the README (desktop width).
  async screenshot(name) {
    const file = path.join(OUT, 'screenshots', `${name}.png`);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    await this.page.screenshot({ path: file, fullPage: true });
  }

  /// Submit a form whose answer should be refused: the error summary must appear (with
  /// JavaScript, focus moves to it) and `kept` fields must still hold what was typed.
  async expectErrors(label, kept = {}) {
    const page = this.page;
    const summary = page.locator('.govuk-error-summary');
    if ((await summary.count()) === 0) {
      throw new Error(`${label}: no error summary`);
    }
    if (!/^Error:/.test(await page.title())) {
      throw new Error(`${label}: the title does not start with "Error:"`);
    }
    if (this.js) {
      const focused = await page.evaluate(() =>
        document.activeElement?.closest('.govuk-error-summary') !== null);
      if (!focused) throw new Error(`${label}: focus did not move to the error summary`);
    }
    for (const [selector, value] of Object.entries(kept)) {
      const actual = await page.inputValue(selector);
      if (actual !== value) {
        throw new Error(`${label}: ${selector} holds ${JSON.stringify(actual)}, not what was typed (${JSON.stringify(value)})`);
      }
    }
    // Each message links to its field.
    const links = await summary.locator('a').evaluateAll((as) => as.map((a) => a.getAttribute('href')));
    for (const href of links) {
      if (!href.startsWith('#') || (await page.locator(href).count()) === 0) {
        throw new Error(`${label}: error summary link ${href} goes nowhere`);
      }
    }
    // The summary lists the errors in the order their fields come on the page.
    const inOrder = await page.evaluate((hrefs) => {
      const fields = hrefs.map((h) => document.getElementById(h.slice(1)));
      return fields.every((f, i) => i === 0
        || (fields[i - 1].compareDocumentPosition(f) & Node.DOCUMENT_POSITION_FOLLOWING) !== 0);
    }, links);
    if (!inOrder) throw new Error(`${label}: the error summary is not in the form's order (${links.join(', ')})`);
    await this.check(label);
  }

  async text() {
    return this.page.locator('main').innerText();
  }

  async expectText(pattern, label) {
    const text = await this.text();
    if (!(pattern instanceof RegExp ? pattern.test(text) : text.includes(pattern))) {
      throw new Error(`${label}: expected ${pattern} on the page`);
    }
  }

  async expectUrl(pattern, label) {
    const url = this.page.url();
    if (!(pattern instanceof RegExp ? pattern.test(url) : url.endsWith(pattern))) {
      throw new Error(`${label}: expected to be at ${pattern}, but at ${url}`);
    }
  }
}

/// Run axe-core on the page; any WCAG A or AA violation fails the journey with its details.
export async function axe(page, label) {
  // A check that never finishes fails here, named, rather than at the journey's three-minute
  // limit (page.evaluate has no timeout of its own).
  let timer;
  return Promise.race([
    axeRun(page, label),
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`axe-core did not finish on ${label} within 30 s`)), 30_000);
    }),
  ]).finally(() => clearTimeout(timer));
}

async function axeRun(page, label) {
  // Evaluated through the DevTools protocol, so it also runs when the page's own JavaScript is
  // off. (`void 0` at the end: the script's last value is not sent back.)
  if (!(await page.evaluate(() => typeof window.axe !== 'undefined'))) {
    await page.evaluate(`${AXE}\n;void 0`);
  }
  const result = await page.evaluate(async (tags) => {
    // eslint-disable-next-line no-undef
    const r = await axe.run(document, { runOnly: { type: 'tag', values: tags } });
    return r.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      nodes: v.nodes.slice(0, 5).map((n) => n.target.join(' ')),
    }));
  }, WCAG_TAGS);
  if (result.length > 0) {
    const detail = result
      .map((v) => `  ${v.id} (${v.impact}): ${v.help}\n    at ${v.nodes.join('\n    at ')}`)
      .join('\n');
    throw new Error(`axe found ${result.length} accessibility violation(s) on ${label}:\n${detail}`);
  }
}

/// The 6-digit code an authenticator app shows for a base32 secret (RFC 6238, SHA-1, 30 s).
export function totp(secret, unix = Date.now() / 1000) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const c of secret.replace(/=+$/, '')) bits += alphabet.indexOf(c).toString(2).padStart(5, '0');
  const bytes = Buffer.from(bits.match(/.{8}/g).map((b) => parseInt(b, 2)));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(unix / 30)));
  const mac = crypto.createHmac('sha1', bytes).update(counter).digest();
  const offset = mac[mac.length - 1] & 0xf;
  const n = (mac.readUInt32BE(offset) & 0x7fffffff) % 1_000_000;
  return n.toString().padStart(6, '0');
}

// Keyboard only -------------------------------------------------------------------------------

/// Press Tab until the focused element matches `target`: a CSS selector, or `{ button: text }`
/// for a button or link whose text starts with `text` (at most `limit` presses).
export async function tabTo(page, target, limit = 80) {
  for (let i = 0; i < limit; i++) {
    await page.keyboard.press('Tab');
    const reached = await page.evaluate((t) => {
      const el = document.activeElement;
      if (!el) return false;
      if (typeof t === 'string') return el.matches(t);
      return /^(BUTTON|A)$/.test(el.tagName) && el.textContent.trim().startsWith(t.button);
    }, target);
    if (reached) return;
  }
  throw new Error(`keyboard: ${JSON.stringify(target)} was not reached with ${limit} presses of Tab`);
}

/// Tab to a field and type into it.
export async function typeInto(page, selector, text) {
  await tabTo(page, selector);
  await page.keyboard.type(text);
}

// Running journeys ----------------------------------------------------------------------------

/// Run one journey in a fresh browser context; on failure print where it was and what it saw.
export async function run(browser, name, fn, { js = true, width = 1024 } = {}, log) {
  const context = await browser.newContext({
    javaScriptEnabled: js,
    viewport: { width, height: 900 },
    locale: 'en-GB',
    timezoneId: 'Europe/London',
  });
  context.setDefaultTimeout(15_000);
  const page = await context.newPage();
  const visit = new Visit(name, browser, context, page, log);
  visit.js = js;
  const started = Date.now();
  let timer;
  try {
    // A journey that hangs fails with its report instead of holding the test run.
    await Promise.race([
      fn(visit),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error('the journey took longer than 3 minutes')), 180_000);
      }),
    ]);
    console.log(`ok   ${name} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
    return true;
  } catch (e) {
    const safe = name.replace(/[^a-z0-9]+/gi, '-').toLowerCase();
    const shot = path.join(OUT, 'failures', `${safe}.png`);
    fs.mkdirSync(path.dirname(shot), { recursive: true });
    let text = '';
    try {
      await page.screenshot({ path: shot, fullPage: true });
      text = (await page.locator('body').innerText()).slice(0, 4000);
    } catch (_) {
      text = '(the page could not be read)';
    }
    console.log(`FAIL ${name}`);
    console.log(`  what went wrong: ${e.message}`);
    console.log(`  page address:    ${page.url()}`);
    console.log(`  screenshot:      ${shot}`);
    console.log(`  page text:\n${text.split('\n').map((l) => '    | ' + l).join('\n')}`);
    if (e.stack) console.log(`  at: ${e.stack.split('\n').slice(1, 4).join('\n      ')}`);
    return false;
  } finally {
    clearTimeout(timer);
    await context.close();
    if (visit.helperPage) await visit.helperPage.context().close();
  }
}

// Common steps ---------------------------------------------------------------------------------

export async function signIn(v, email, password = PASSWORD) {
  await v.goto('/sign-in', 'sign in');
  await v.page.fill('#email', email);
  await v.page.fill('#password', password);
  await v.page.click('button:has-text("Sign in")');
}

export async function signOut(v) {
  await v.page.click('.haven-account-bar button:has-text("Sign out")');
  await v.expectUrl(/\/sign-in\?signed_out=1$/, 'sign out');
}
