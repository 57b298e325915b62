// Runs every browser journey in Chromium and exits non-zero if any fails. Started by
// tests/web/browser.rs (`cargo test`); see docs/decisions/008-browser-tests.md.

import fs from 'node:fs';
import path from 'node:path';
import { OUT, axe, launch, run } from './lib.mjs';
import * as j from './journeys.mjs';

const log = { pages: new Set() };
const state = {};
const browser = await launch();
const results = [];

// First, prove the checker can fail: a page with a missing label and a missing alt text.
{
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.setContent('<html lang="en"><title>t</title><main><img src="x.png"><input id="q"></main></html>');
  let caught = false;
  try {
    await axe(page, 'a deliberately broken page');
  } catch (e) {
    caught = /image-alt/.test(e.message) && /label/.test(e.message);
  }
  await context.close();
  if (!caught) {
    console.log('FAIL axe-core did not report the violations on a deliberately broken page');
    process.exit(1);
  }
}
const go = async (name, fn, options) => results.push(await run(browser, name, (v) => fn(v, state), options, log));

// Order matters where a journey uses what an earlier one made (the case, the admins' keys).
await go('sign in without a second factor, with bad input first', j.signInWithoutSecondFactor);
await go('a LADO sets up a security code, then signs in with a code and a recovery code', j.ladoSetsUpASecurityCodeAndUsesARecoveryCode);
await go('a practitioner logs a referral, finds the case, adds and corrects a note', j.practitionerLogsAReferralAndWorksTheCase);
if (state.casePath) {
  await go('a practitioner records the people properly and prints the case', j.practitionerRecordsThePeopleAndPrintsTheCase);
  await go('the timeout warning offers to stay signed in', j.theTimeoutWarningOffersToStaySignedIn);
  await go('a stale edit shows the conflict page', (v, s) => j.aStaleEditShowsTheConflictPage(browser, v, s));
  await go('a manager reads the chronology and the access record', j.managerReadsTheChronologyAndTheAccessRecord);
  await go('after signing out, the back button shows nothing sensitive', j.afterSigningOutTheBackButtonShowsNothing);
  await go('the case goes from the decision to the conference and its clocks', (v, s) => j.aCaseGoesFromDecisionToConference(browser, v, s));
}
if (state.ladoSecret) {
  await go('the LADO opens an allegation and works it to an outcome', j.ladoOpensAnAllegationAndWorksItToAnOutcome);
}
await go('a practitioner asks to open a restricted record', j.aPractitionerAsksToOpenARestrictedRecord);
await go('an administrator creates an account and a second releases its set-password link', j.adminCreatesAnAccountASecondReleasesItsLink);
await go('the referral journey by keyboard alone', j.referralByKeyboardAlone);
await go('the referral journey with JavaScript off', j.referralWithJavaScriptOff, { js: false });

await browser.close();
fs.writeFileSync(path.join(OUT, 'pages-checked.txt'), [...log.pages].sort().join('\n') + '\n');
const failed = results.filter((ok) => !ok).length;
console.log(`\n${results.length - failed} of ${results.length} journeys passed; axe-core found no WCAG 2.2 A/AA violations on ${log.pages.size} page states (listed in ${path.join(OUT, 'pages-checked.txt')}).`);
if (!state.casePath) console.log('Journeys that need the case from the referral journey were not run.');
process.exit(failed === 0 && state.casePath ? 0 : 1);
