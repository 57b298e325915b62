// The journeys that matter, as people meet them in a real Chromium. Each takes a `Visit` (its own
// browser context) and the shared state; later issues add theirs here and to run.mjs.

import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { BASE, PASSWORD, signIn, signOut, tabTo, totp, typeInto } from './lib.mjs';

const FIXTURES = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'documents');

const A = JSON.parse(process.env.HAVEN_BROWSER_ACCOUNTS);

// The server's fixed clock (HAVEN_FIXED_TIME): the journeys' "now".
const NOW = Date.parse(process.env.HAVEN_BROWSER_NOW);

function yesterday() {
  const d = new Date(NOW - 24 * 3600 * 1000);
  return { day: String(d.getDate()), month: String(d.getMonth() + 1), year: String(d.getFullYear()) };
}

// Signing in --------------------------------------------------------------------------------

export async function signInWithoutSecondFactor(v, state) {
  const page = v.page;
  await v.goto('/sign-in', 'sign-in page');
  await v.screenshot('sign-in');
  // Nothing typed, then a wrong password: the same message, the email kept.
  await page.click('button:has-text("Sign in")');
  await v.expectErrors('sign-in with nothing typed');
  await page.fill('#email', A.practitioner);
  await page.fill('#password', 'not the right password');
  await page.click('button:has-text("Sign in")');
  await v.expectErrors('sign-in with a wrong password', { '#email': A.practitioner });
  await v.screenshot('error-summary');
  await page.fill('#password', PASSWORD);
  await page.click('button:has-text("Sign in")');
  await v.expectUrl('/work', 'signed in');
  await v.check('my work (empty)');
  await v.goto('/account', 'your account');
  await v.goto('/help', 'help');
  // Changing one's password: the wrong current password, then a mismatch, typed values kept
  // only where they are not secrets.
  await v.goto('/account', 'your account again');
  await page.click('a[href="/account/password"]');
  await v.check('change your password');
  await page.fill('#current', 'not my password at all');
  await page.fill('#password', 'a new long passphrase here');
  await page.fill('#confirm', 'a new long passphrase here');
  await page.click('button:has-text("Change password")');
  await v.expectErrors('a wrong current password');
  await page.fill('#current', PASSWORD);
  await page.fill('#password', 'a new long passphrase here');
  await page.fill('#confirm', 'something else entirely');
  await page.click('button:has-text("Change password")');
  await v.expectErrors('new passwords that differ');
  // Security codes: starting needs the password.
  await v.goto('/account/two-factor', 'security codes (off)');
  await page.click('button:has-text("Set up security codes")');
  await v.expectErrors('setting up codes without the password');
  state.signedIn = true;
}

export async function ladoSetsUpASecurityCodeAndUsesARecoveryCode(v, state) {
  const page = v.page;
  await signIn(v, A.lado);
  await v.expectUrl('/sign-in/set-up-code', 'LADO must set up a code');
  await v.check('set up a security code');
  const secret = (await page.locator('#secret').innerText()).trim();
  await page.fill('#code', '000000');
  await page.click('button:has-text("Turn on security codes")');
  await v.expectErrors('a wrong first code');
  if ((await page.locator('#secret').innerText()).trim() !== secret) {
    throw new Error('the key changed after a wrong code');
  }
  const now = Date.now() / 1000;
  await page.fill('#code', totp(secret, now));
  await page.click('button:has-text("Turn on security codes")');
  await v.check('recovery codes');
  const codes = await page.locator('#recovery-codes li').allInnerTexts();
  if (codes.length !== 10) throw new Error(`expected 10 recovery codes, saw ${codes.length}`);
  await page.click('a:has-text("I have saved my codes")');
  await v.expectUrl('/work/team', 'the LADO starts at their teams\' work');
  await v.check('team work (LADO)');
  await signOut(v);
  // Next time: password, then the code from the app.
  await signIn(v, A.lado);
  await v.expectUrl('/sign-in/code', 'asked for a code');
  await v.check('enter your security code');
  await page.fill('#code', '123');
  await page.click('button:has-text("Continue")');
  await v.expectErrors('a wrong code at sign-in');
  await page.fill('#code', totp(secret, now + 30));
  await page.click('button:has-text("Continue")');
  await v.expectUrl('/work/team', 'signed in with a code');
  await signOut(v);
  // A lost phone: a recovery code works once.
  await signIn(v, A.lado);
  await page.fill('#code', codes[0]);
  await page.click('button:has-text("Continue")');
  await v.expectUrl('/work/team', 'signed in with a recovery code');
  await v.goto('/account', 'account with security codes on');
  await v.expectText('9 recovery codes left', 'one recovery code spent');
  state.ladoSecret = secret;
}

// A referral -----------------------------------------------------------------------------------

/// Log a referral with two children and an alleged adult, by mouse and typing.
async function logReferral(v, { children, adult, account, withBadInput, screenshots = false }) {
  const page = v.page;
  await v.goto('/referrals/new', 'start a referral');
  await v.expectText('Do not tell the child\'s family', 'the do-not-tell-the-family warning');
  await page.click('button:has-text("Start")');
  await v.check('referrer question');
  if (withBadInput) {
    await page.fill('#name', 'Priya Nandakumar');
    await page.click('button:has-text("Continue")');
    await v.expectErrors('referrer with missing answers', { '#name': 'Priya Nandakumar' });
    if (screenshots) await v.screenshot('referral-error-summary');
  }
  await page.fill('#name', 'Priya Nandakumar');
  await page.fill('#role', 'Designated safeguarding lead');
  await page.fill('#agency', 'Fernhill Academy');
  await page.fill('#contact', '01632 960 123');
  await page.click('button:has-text("Continue")');
  await v.check('when received');
  if (withBadInput) {
    await page.fill('#received-day', '31');
    await page.fill('#received-month', '2');
    await page.fill('#received-year', '2026');
    await page.fill('#time', '9:15am');
    await page.click('button:has-text("Continue")');
    await v.expectErrors('31 February', { '#received-day': '31', '#time': '9:15am' });
  }
  const y = yesterday();
  await page.fill('#received-day', y.day);
  await page.fill('#received-month', y.month);
  await page.fill('#received-year', y.year);
  await page.fill('#time', '9:15am');
  await page.click('button:has-text("Continue")');
  await v.check('children question');
  if (withBadInput) {
    await page.fill('#name', 'Juniper');
    await page.fill('#age', 'twelve');
    await page.click('button:has-text("Add child")');
    await v.expectErrors('a child with an age in words', { '#name': 'Juniper', '#age': 'twelve' });
    await page.fill('#age', '');
  }
  for (const [i, child] of children.entries()) {
    await page.fill('#name', child.name);
    await page.fill('#dob-day', child.day);
    await page.fill('#dob-month', child.month);
    await page.fill('#dob-year', child.year);
    await page.fill('#school', 'Fernhill Academy');
    await page.click('button:has-text("Add child")');
    await v.expectText(child.name, `child ${i + 1} added`);
  }
  await v.check('children added');
  if (screenshots) await v.screenshot('referral-question');
  await page.click('button:has-text("Continue")');
  await v.check('adults question');
  if (withBadInput) {
    await page.fill('#name', adult);
    await page.click('button:has-text("Add adult")');
    await v.expectErrors('an adult with no connection chosen', { '#name': adult });
  }
  await page.fill('#name', adult);
  await page.check('input[name=relationship][value=alleged]');
  await page.click('button:has-text("Add adult")');
  await v.expectText(adult, 'adult added');
  await page.click('button:has-text("Continue")');
  await v.check('concerns question');
  if (withBadInput) {
    await page.click('button:has-text("Continue")');
    await v.expectErrors('no concern chosen');
  }
  await page.check('input[name=concerns][value=grooming]');
  await page.check('input[name=concerns][value=harmful_material]');
  await page.click('button:has-text("Continue")');
  await v.check('account question');
  if (withBadInput) {
    await page.click('button:has-text("Continue")');
    await v.expectErrors('no account given');
  }
  await page.fill('#account', account);
  await page.click('button:has-text("Continue")');
  await v.check('immediate risk question');
  if (withBadInput) {
    await page.fill('#details', 'Not sure yet');
    await page.click('button:has-text("Continue")');
    await v.expectErrors('no answer about immediate risk', { '#details': 'Not sure yet' });
  }
  await page.check('input[name=risk][value=yes]');
  await page.fill('#details', 'A meeting is planned for Saturday');
  await page.click('button:has-text("Continue")');
  await v.check('works with children question');
  if (withBadInput) {
    await page.click('button:has-text("Continue")');
    await v.expectErrors('no answer about work with children');
  }
  await page.check('input[name=works][value=yes]');
  await page.fill('#details', 'Volunteer at a youth club');
  await page.click('button:has-text("Continue")');
  await v.expectUrl(/\/check$/, 'the check page');
  await v.check('check your answers');
  await v.expectText('Do not tell the child\'s family', 'the warning on the check page');
}

async function submitReferral(v) {
  await v.page.click('button:has-text("Create case")');
  await v.expectUrl(/\/cases\/[0-9a-f-]+\?created=1$/, 'the new case');
  await v.check('new case');
  return v.page.url().replace(/\?created=1$/, '').replace(/^.*\/cases\//, '/cases/');
}

export async function practitionerLogsAReferralAndWorksTheCase(v, state) {
  const page = v.page;
  await signIn(v, A.practitioner);
  await logReferral(v, {
    children: [
      { name: 'Juniper Ashcombe', day: '4', month: '11', year: '2013' },
      { name: 'Rowan Ashcombe', day: '19', month: '6', year: '2016' },
    ],
    adult: 'Gary Pellow',
    account: 'The class teacher saw messages on a shared tablet arranging a meeting.',
    withBadInput: true,
    screenshots: true,
  });
  await v.expectText('You have said a child is at immediate risk', 'the check page says what must happen now');
  await v.screenshot('check-your-answers');
  // Change one answer from the check page and come back to it.
  await page.click('a:has-text("Change") >> nth=0');
  await v.check('changing an answer');
  await page.fill('#role', 'Head of year');
  await page.click('button:has-text("Continue")');
  await v.expectUrl(/\/check$/, 'back at the check page');
  await v.expectText('Head of year', 'the changed answer');
  // A page of the referral left open in another window (a second browser context with the
  // same session cookies), answered after the referral is sent. (A second tab in the same
  // context stalled the first one now and then in Chromium 156.0.8078.129, even when brought to
  // the front; separate contexts, as the stale-edit journey uses, do not.)
  const elsewhere = await v.browser.newContext({ locale: 'en-GB', timezoneId: 'Europe/London' });
  elsewhere.setDefaultTimeout(15_000);
  await elsewhere.addCookies(await page.context().cookies());
  const otherTab = await elsewhere.newPage();
  await otherTab.goto(page.url().replace(/\/check$/, '/referrer'));
  const casePath = await submitReferral(v);
  state.casePath = casePath;
  await otherTab.fill('#role', 'Deputy head');
  await otherTab.click('button:has-text("Continue")');
  const lateAnswer = otherTab.url();
  await elsewhere.close();
  if (!lateAnswer.includes('not_saved=1')) throw new Error(`the late answer went to ${lateAnswer}`);
  await v.goto(lateAnswer.replace(/^https?:\/\/[^/]+/, ''), 'the case after a late answer');
  await v.expectText('Your last answer was not saved', 'the case says the late answer was not saved');
  await v.fitsPhone('the case after a late answer');
  await v.goto(casePath, 'the case again');
  await v.expectText('Juniper Ashcombe', 'the case shows the children');
  await v.expectText('Gary Pellow', 'the case shows the adult');
  // Find it in My cases and by name search.
  await page.click('.govuk-service-navigation a:has-text("My cases")');
  await v.check('my cases');
  await v.screenshot('my-cases');
  await v.expectText('Juniper Ashcombe, Rowan Ashcombe', 'the case is listed');
  await page.fill('#name', 'j');
  await page.click('button:has-text("Search")');
  await v.expectErrors('a one-letter search', { '#name': 'j' });
  // Narrowed by a date of birth: first one that is not a date, then Juniper's.
  const dob = { '#dob-day': '31', '#dob-month': '2', '#dob-year': '2013' };
  await page.fill('#name', 'ashcombe');
  for (const [field, value] of Object.entries(dob)) await page.fill(field, value);
  await page.click('button:has-text("Search")');
  await v.expectErrors('a search with a date of birth that is not a date', { '#name': 'ashcombe', ...dob });
  await page.fill('#dob-day', '4');
  await page.fill('#dob-month', '11');
  await page.click('button:has-text("Search")');
  await v.check('search narrowed by a date of birth');
  await v.fitsPhone('search narrowed by a date of birth');
  await v.expectText('born 4 November 2013', 'the search names the child born that day');
  for (const field of Object.keys(dob)) await page.fill(field, '');
  await page.fill('#name', 'ashcombe');
  await page.click('button:has-text("Search")');
  await v.check('search results');
  await page.click('#cases a');
  await v.expectUrl(casePath, 'opened from the search');
  // A note: empty first, then written, then corrected.
  await page.click('button:has-text("Save note")');
  await v.expectErrors('an empty note');
  await page.fill('#body', 'Spoke to the school: the tablet has been kept in the office.');
  await page.click('button:has-text("Save note")');
  await v.expectText('Spoke to the school', 'the note in the chronology');
  await page.click('a:has-text("Correct this note")');
  await v.check('correcting a note');
  await page.fill('#body', 'Correction: the tablet is locked in the head teacher\'s office.');
  await page.click('button:has-text("Save note")');
  await v.expectText('Corrected by a later note', 'the original is marked corrected');
  await v.check('case with notes');
  await v.screenshot('case-with-chronology');
  // The other pathways: the form for a child alleged to have harmed, sent empty, then left.
  await page.click('a:has-text("Record harmful sexual behaviour by a child")');
  await v.check('the harmful sexual behaviour form');
  await v.fitsPhone('the harmful sexual behaviour form');
  await page.fill('#child_age', '19');
  await page.click('button:has-text("Save")');
  await v.expectErrors('a pathway form with an adult\'s age', { '#child_age': '19' });
  await page.click('a:has-text("Back to")');
  await v.expectUrl(`${casePath}#pathways`, 'back on the case');
}

export async function practitionerRecordsThePeopleAndPrintsTheCase(v, state) {
  const page = v.page;
  await signIn(v, A.practitioner);
  await v.goto(state.casePath, 'the case');
  await v.fitsPhone('the case page');
  // A child's details: a bad NHS number and an age the date of birth contradicts, then right.
  await page.click('#children a:has-text("Change") >> nth=0');
  await v.check('a child\'s details');
  await v.fitsPhone('a child\'s details');
  await page.check('input[name=sex][value=female]');
  await page.fill('#age', '3');
  await page.selectOption('#ethnicity', 'MWBC');
  await page.fill('#nhs', '943 476 5918');
  await page.click('button:has-text("Save")');
  await v.expectErrors('a contradictory age and a bad NHS number', { '#nhs': '943 476 5918', '#age': '3' });
  await page.fill('#age', '');
  await page.fill('#nhs', '943 476 5919');
  await page.check('input[name=plan][value=yes]');
  await page.click('button:has-text("Save")');
  await v.expectUrl(/#people$/, 'back on the case');
  await v.expectText('Child protection plan', 'the plan is shown on the case');
  // The police contact about the immediate risk: empty first, then recorded.
  await page.click('a:has-text("Record the police contact")');
  await v.check('record the police contact');
  await v.fitsPhone('record the police contact');
  await page.click('button:has-text("Save")');
  await v.expectErrors('an empty police contact');
  await fillDate(page, 'when', '15', '12', '2026');
  await page.fill('#time', '09:50');
  await page.fill('#officer', 'PC Dana Whitfield, North Division');
  await page.fill('#reference', 'NP-2026-44817');
  await page.click('button:has-text("Save")');
  await v.expectText('reference NP-2026-44817', 'the police contact is on the case');
  // The adult's relationship to each child.
  await page.click('#adults a:has-text("Change") >> nth=0');
  await v.check('an adult\'s details');
  await page.fill('#employer', 'Riverside Leisure Centre');
  await page.fill('#job_role', 'Swimming coach');
  await page.selectOption('select[name^=rel-] >> nth=0', 'online_contact');
  await page.click('button:has-text("Save")');
  await v.expectText('Known to the child only online to Juniper Ashcombe', 'the relationship on the case');
  await v.expectText('Sex: not recorded → “Female”', 'the change in the chronology, old and new');
  await v.screenshot('case-people');
  // The printable summary, then only the changes to people.
  await page.click('a:has-text("Print or save the summary and chronology")');
  await v.check('the printable summary');
  await v.fitsPhone('the printable summary');
  await v.expectText('OFFICIAL-SENSITIVE', 'the protective marking');
  await v.screenshot('print');
  await page.emulateMedia({ media: 'print' });
  await v.screenshot('print-as-paper');
  await page.emulateMedia({ media: 'screen' });
  await page.click('summary:has-text("Print only some")');
  await page.check('input[name=kind][value=person]');
  await page.click('button:has-text("Show these entries")');
  await v.check('the printable summary, filtered');
  await v.expectText('Chronology entries only person details', 'the filter is stated');
}

export async function theTimeoutWarningOffersToStaySignedIn(v, state) {
  const page = v.page;
  await signIn(v, A.practitioner);
  // This one page is served with a 6-second idle limit, so the warning comes after 3 seconds.
  await page.route(`${BASE}${state.casePath}`, async (route) => {
    const response = await route.fetch();
    const body = (await response.text()).replace(/data-idle-seconds="\d+"/, 'data-idle-seconds="6"');
    await route.fulfill({ response, body });
  });
  await page.goto(BASE + state.casePath);
  await page.locator('#haven-timeout[open]').waitFor({ timeout: 10000 });
  await v.check('the timeout warning');
  const focused = await page.evaluate(() => document.activeElement?.hasAttribute('data-haven-stay'));
  if (!focused) throw new Error('the timeout warning: focus is not on "Stay signed in"');
  const kept = page.waitForResponse((r) => r.url().endsWith('/account/keep-alive') && r.status() === 204);
  await page.click('button:has-text("Stay signed in")');
  await kept;
  await page.locator('#haven-timeout[open]').waitFor({ state: 'detached', timeout: 1 }).catch(() => {});
  if (await page.locator('#haven-timeout[open]').count()) throw new Error('the warning stayed open');
  await page.unroute(`${BASE}${state.casePath}`);
}

export async function aStaleEditShowsTheConflictPage(browser, v, state) {
  const page = v.page;
  await signIn(v, A.practitioner);
  await v.goto(`${state.casePath}/edit`, 'change the case');
  // Someone else (the manager) saves a change first, in their own browser.
  const other = await browser.newContext();
  const mo = await other.newPage();
  await mo.goto(v.page.url().replace(/\/cases\/.*$/, '/sign-in'));
  await mo.fill('#email', A.manager);
  await mo.fill('#password', PASSWORD);
  await mo.click('button:has-text("Sign in")');
  await mo.goto(v.page.url());
  await mo.fill('#title', 'Ashcombe children');
  await mo.click('button:has-text("Save")');
  await other.close();
  await page.bringToFront();
  // Bad input is refused, what was typed kept.
  await page.fill('#title', '');
  await page.click('button:has-text("Save")');
  await v.expectErrors('an empty case name');
  await page.fill('#title', 'Juniper and Rowan');
  await page.click('button:has-text("Save")');
  await v.check('conflict page');
  await v.expectText('Ashcombe children', 'their version shown');
  await v.expectText('Juniper and Rowan', 'your version shown');
}

export async function managerReadsTheChronologyAndTheAccessRecord(v, state) {
  const page = v.page;
  await signIn(v, A.manager);
  await v.expectUrl('/work/team', 'the manager starts at team work');
  await v.check('team work');
  await page.click('a:has-text("All open deadlines, the most overdue first")');
  await v.expectUrl('/work/team/deadlines', 'all open deadlines');
  await v.check('all open deadlines (team)');
  await v.fitsPhone('all open deadlines (team)');
  await v.expectText('Decision on the referral', 'the referral decision is listed');
  await page.click('a:has-text("Back to team work")');
  await v.expectUrl('/work/team', 'back at team work');
  await v.goto('/work/team/risks', 'every immediate risk not yet acknowledged');
  await v.check('immediate risks list (team)');
  await v.fitsPhone('immediate risks list (team)');
  await v.goto('/cases/team', 'team cases');
  await page.click(`a[href="${state.casePath}"]`);
  await v.check('case (manager)');
  await page.click('a:has-text("Show oldest first")');
  await v.check('chronology oldest first');
  await v.expectText('Referral received from Priya Nandakumar', 'the referral in the chronology');
  await page.click('a:has-text("Who has viewed or changed this case")');
  await v.check('access record');
  await v.expectText('Viewed the case', 'views are listed');
  await v.screenshot('access-record');
  // Allocation: nobody chosen first, then to Sam, then back to Pat; the caseloads page.
  await v.goto(state.casePath, 'the case again');
  await page.click('a:has-text("Allocate or reallocate")');
  await v.check('allocate the case');
  await v.fitsPhone('allocate the case');
  await page.click('button:has-text("Allocate the case")');
  await v.expectErrors('an allocation to nobody');
  await page.check('input[name=owner] >> nth=2');
  await page.click('button:has-text("Allocate the case")');
  await v.expectText('Allocated to', 'the allocation is in the chronology');
  await page.click('a:has-text("Allocate or reallocate")');
  await page.check('input[name=owner] >> nth=1');
  await page.click('button:has-text("Allocate the case")');
  await v.expectText('Allocated to Pat Okonjo', 'back with Pat');
  await v.goto('/cases/team?order=risk', 'team cases, a child at immediate risk first');
  await v.expectText('A child at immediate risk first, then newest first', 'the list says its order');
  await v.goto('/work/caseloads', 'caseloads');
  await v.fitsPhone('caseloads');
  await v.expectText('Sam Whitlock', 'caseloads list the team');
  // The immediate risk heads team work until the manager acknowledges it.
  await v.goto('/work/team', 'team work with an immediate risk');
  await v.expectText('Immediate risk not yet acknowledged', 'the risk heads team work');
  await page.click('#risks a');
  await page.click('button:has-text("Acknowledge the immediate risk")');
  await v.expectText('Acknowledged by Morag Ellery', 'acknowledged');
  // Supervision: sent empty first, then recorded; readable here, only "held" in the chronology.
  await page.click('a:has-text("Supervision")');
  await v.check('supervision');
  await v.fitsPhone('supervision');
  await page.click('button:has-text("Save the supervision")');
  await v.expectErrors('an empty supervision');
  await fillDate(page, 'held', '15', '12', '2026');
  await page.fill('#discussion', 'Whether the tablet evidence is secure; the school is cooperating.');
  await page.fill('#decisions', 'Strategy discussion today; police to collect the tablet.');
  await page.click('button:has-text("Save the supervision")');
  await v.expectText('Whether the tablet evidence is secure', 'the supervision is recorded');
  await v.check('supervision recorded');
}

// Administration -----------------------------------------------------------------------------

async function adminSignsIn(v, email, state) {
  const page = v.page;
  await signIn(v, email);
  if (page.url().endsWith('/sign-in/set-up-code')) {
    await v.check('admin sets up a security code');
    const secret = (await page.locator('#secret').innerText()).trim();
    await page.fill('#code', totp(secret));
    await page.click('button:has-text("Turn on security codes")');
    await page.click('a:has-text("I have saved my codes")');
    state.adminSecrets[email] = secret;
  } else {
    await page.fill('#code', totp(state.adminSecrets[email], Date.now() / 1000 + 30));
    await page.click('button:has-text("Continue")');
  }
  await v.expectUrl('/admin/users', 'the administrator starts at users');
}

export async function adminCreatesAnAccountASecondReleasesItsLink(v, state) {
  const page = v.page;
  state.adminSecrets ??= {};
  await adminSignsIn(v, A.admin, state);
  await v.check('users');
  await page.click('a:has-text("Teams")');
  await v.check('teams');
  await page.click('button:has-text("Add team")');
  await v.expectErrors('a team with no name');
  // The partnership's settings, with a retention period that cannot be.
  await v.goto('/admin/settings', 'partnership settings');
  await page.fill('#retention', '0');
  await page.click('button:has-text("Save the settings")');
  await v.expectErrors('a retention of 0 years', { '#retention': '0' });
  await page.fill('#retention', '25');
  await page.click('button:has-text("Save the settings")');
  await v.expectText('Last changed by', 'settings saved');
  await v.goto('/admin/users', 'users again');
  await page.click('a:has-text("Create an account")');
  await v.check('create an account');
  await page.fill('#name', 'Robin Fairweather');
  await page.fill('#email', 'not an email address');
  await page.click('button:has-text("Create account")');
  await v.expectErrors('a bad new account', { '#name': 'Robin Fairweather', '#email': 'not an email address' });
  await page.fill('#email', 'robin@example.org');
  await page.check('input[name=role][value=practitioner]');
  await page.check('input[name=team] >> nth=0');
  await page.click('button:has-text("Create account")');
  await v.check('account created');
  await v.expectText('Another administrator must now release', 'the link waits for a second administrator');
  if ((await page.content()).includes('/set-password/')) {
    throw new Error('the administrator who asked was shown the link');
  }
  await signOut(v);
  // The second administrator releases it.
  await adminSignsIn(v, A.admin2, state);
  await v.expectText('Robin Fairweather', 'the waiting link is listed');
  await page.click('a:has-text("Robin Fairweather")');
  await page.click('button:has-text("Release the set-password link")');
  await v.check('link released');
  const link = (await page.locator('#set-password-link').innerText()).trim();
  await signOut(v);
  // Robin opens the link (this browser has just been signed out).
  await v.page.goto(link);
  await v.check('choose your password');
  await v.page.fill('#password', 'short');
  await v.page.fill('#confirm', 'short');
  await v.page.click('button:has-text("Set password")');
  await v.expectErrors('a short password');
  await v.page.fill('#password', 'quiet lantern over the harbour');
  await v.page.fill('#confirm', 'quiet lantern over the harbour');
  await v.page.click('button:has-text("Set password")');
  await v.expectUrl('/sign-in?password_set=1', 'password set');
  await signIn(v, 'robin@example.org', 'quiet lantern over the harbour');
  await v.expectUrl('/work', 'Robin is signed in');
}

// Signing out -----------------------------------------------------------------------------------

export async function afterSigningOutTheBackButtonShowsNothing(v, state) {
  const page = v.page;
  await signIn(v, A.practitioner);
  await v.goto(state.casePath, 'case before signing out');
  await signOut(v);
  // Back: the case page was never cached (no-store), so the browser asks again and is sent
  // to sign in. Whatever the browser does with history, the page must not show the case.
  await page.goBack({ waitUntil: 'commit' }).catch(() => {});
  await page.waitForLoadState('load');
  const text = await page.locator('body').innerText();
  if (text.includes('Juniper') || text.includes('Gary Pellow')) {
    throw new Error('the back button showed case content after signing out');
  }
  await v.expectUrl(/\/sign-in/, 'back leads to signing in');
}

// The referral by keyboard alone, and without JavaScript ----------------------------------------

async function expectChecked(page, selector) {
  if (!(await page.locator(selector).isChecked())) throw new Error(`keyboard: ${selector} is not chosen`);
}

async function pressButton(page, text) {
  await tabTo(page, { button: text });
  const loaded = page.waitForEvent('load');
  await page.keyboard.press('Enter');
  await loaded;
}

export async function referralByKeyboardAlone(v) {
  const page = v.page;
  await signIn(v, A.practitioner2);
  await v.goto('/referrals/new', 'start a referral (keyboard)');
  // The first Tab on a page lands on the skip link.
  await page.keyboard.press('Tab');
  const first = await page.evaluate(() => document.activeElement?.className ?? '');
  if (!first.includes('govuk-skip-link')) throw new Error(`the first Tab reached ${first}, not the skip link`);
  await pressButton(page, 'Start');
  await typeInto(page, '#name', 'Oluwaseun Adeyemi');
  await typeInto(page, '#role', 'School nurse');
  // Shift+Tab goes back to the name, and the answer there can be added to.
  await page.keyboard.press('Shift+Tab');
  await page.keyboard.press('End');
  await page.keyboard.type(' (lead)');
  await typeInto(page, '#agency', 'Harbourside Primary');
  await typeInto(page, '#contact', 'o.adeyemi@example.org');
  await pressButton(page, 'Continue');
  await v.check('when received (keyboard)');
  const y = yesterday();
  await typeInto(page, '#received-day', y.day);
  await typeInto(page, '#received-month', y.month);
  await typeInto(page, '#received-year', y.year);
  await typeInto(page, '#time', '14:30');
  await pressButton(page, 'Continue');
  await typeInto(page, '#name', 'Amara Okafor');
  await typeInto(page, '#age', '11');
  await pressButton(page, 'Add child');
  await typeInto(page, '#name', 'Tobi Okafor');
  await typeInto(page, '#age', '8');
  await pressButton(page, 'Add child');
  await pressButton(page, 'Continue');
  await typeInto(page, '#name', 'Unknown online contact');
  await tabTo(page, '#relationship');
  // Space chooses the focused radio: the first, the person the concern is about.
  await page.keyboard.press('Space');
  await expectChecked(page, 'input[name=relationship][value=alleged]');
  await pressButton(page, 'Add adult');
  await pressButton(page, 'Continue');
  await tabTo(page, 'input[name=concerns][value=grooming]');
  await page.keyboard.press('Space');
  await expectChecked(page, 'input[name=concerns][value=grooming]');
  await pressButton(page, 'Continue');
  await typeInto(page, '#account', 'Messages from an unknown adult asking Amara to keep a secret.');
  await pressButton(page, 'Continue');
  // Tab reaches a radio group once; the arrow keys move within it and choose.
  await tabTo(page, '#risk');
  await page.keyboard.press('ArrowDown');
  await expectChecked(page, 'input[name=risk][value=no]');
  await pressButton(page, 'Continue');
  await tabTo(page, '#works');
  await page.keyboard.press('ArrowDown');
  await expectChecked(page, 'input[name=works][value=no]');
  await pressButton(page, 'Continue');
  await v.expectUrl(/\/check$/, 'check page reached by keyboard');
  await v.check('check your answers (keyboard)');
  await v.expectText('Oluwaseun Adeyemi (lead)', 'the answer added to after Shift+Tab');
  await pressButton(page, 'Create case');
  await v.expectUrl(/\/cases\/[0-9a-f-]+\?created=1$/, 'case created by keyboard');
  await v.expectText('Amara Okafor', 'the case from the keyboard journey');
}

export async function referralWithJavaScriptOff(v) {
  const page = v.page;
  await signIn(v, A.practitioner2);
  await v.expectUrl('/work', 'signed in without JavaScript');
  await logReferral(v, {
    children: [
      { name: 'Ellis Marchetti', day: '2', month: '9', year: '2012' },
      { name: 'Noor Marchetti', day: '15', month: '1', year: '2015' },
    ],
    adult: 'Dean Voss',
    account: 'A parent reported messages asking Ellis for photographs.',
    withBadInput: true,
  });
  await submitReferral(v);
  await page.click('button:has-text("Save note")');
  await v.expectErrors('an empty note without JavaScript');
}

// The procedure after the referral ---------------------------------------------------------------

async function fillDate(page, name, d, m, y) {
  await page.fill(`#${name}-day`, d);
  await page.fill(`#${name}-month`, m);
  await page.fill(`#${name}-year`, y);
}

/// Record a strategy discussion through its task list. `s47` names the children whose enquiry
/// starts at it.
async function holdDiscussion(v, casePath, held, s47, { screenshots = false, badInput = false } = {}) {
  const page = v.page;
  await v.goto(`${casePath}/procedure`, 'next steps');
  await page.click('button:has-text("Record a strategy discussion")');
  await v.check('strategy discussion task list');
  if (screenshots) await v.screenshot('strategy-discussion-tasks');
  await page.click('a:has-text("When it was held")');
  if (badInput) {
    await page.click('button:has-text("Save and continue")');
    await v.expectErrors('a discussion with no date');
  }
  await fillDate(page, 'held', held.d, held.m, held.y);
  await page.fill('#time', held.t);
  await page.click('button:has-text("Save and continue")');
  await page.click('a:has-text("Who took part")');
  for (const [name, agency, role] of [
    ['Sam Whitlock', 'social_care', 'social_worker'],
    ['Morag Ellery', 'social_care', 'manager'],
    ['DC Tunde Okafor', 'police', 'officer'],
    ['Nurse Asha Patel', 'health', 'practitioner'],
  ]) {
    await page.fill('#name', name);
    await page.check(`input[name=agency][value=${agency}]`);
    await page.check(`input[name=role][value=${role}]`);
    await page.click('button:has-text("Add this person")');
  }
  await v.check('attendees added');
  await page.click('button:has-text("Save and continue")');
  await page.click('a:has-text("Section 47 enquiry for each child")');
  await v.check('section 47 for each child');
  const fieldsets = page.locator('fieldset:has(legend:has-text("does a Section 47 enquiry start?"))');
  const n = await fieldsets.count();
  for (let i = 0; i < n; i++) {
    const legend = await fieldsets.nth(i).locator('legend').innerText();
    const yes = s47.some((child) => legend.includes(child));
    await fieldsets.nth(i).locator(`input[value=${yes ? 'yes' : 'no'}]`).check();
  }
  for (const radio of await page.locator('input[name^=kind-][value=joint]').all()) await radio.check();
  await page.click('button:has-text("Save and continue")');
  for (const section of ['Risk to children', 'Work and positions of trust', 'The investigation and protection']) {
    await page.click(`a:has-text("${section}")`);
    await v.check(`considerations: ${section}`);
    for (const area of await page.locator('textarea').all()) await area.fill('Discussed: see the decisions and actions.');
    await page.click('button:has-text("Save and continue")');
  }
  await page.click('a:has-text("Decisions and actions")');
  await page.fill('#decisions', 'Joint Section 47 enquiry. The tablet is to be seized today.');
  await page.fill('#action_text', 'Seize the tablet from the school office');
  await page.fill('#action_owner', 'DC Tunde Okafor');
  await fillDate(page, 'due', held.d, held.m, held.y);
  await page.click('button:has-text("Add the action")');
  await page.click('button:has-text("Save and continue")');
  await page.click('a:has-text("Telling the family")');
  await v.check('telling the family');
  await page.check('input[name=family][value=not_yet]');
  await page.fill('#family_by', 'DC Tunde Okafor and Morag Ellery');
  await fillDate(page, 'family', held.d, held.m, held.y);
  await page.fill('#time', held.t);
  await page.click('button:has-text("Save and continue")');
  await page.click('a:has-text("Check and record")');
  await v.check('check the strategy discussion');
  if (screenshots) await v.screenshot('strategy-discussion-check');
  await page.click('button:has-text("Record the strategy discussion")');
  await v.expectText('This strategy discussion is recorded', 'recorded');
}

export async function aCaseGoesFromDecisionToConference(browser, v, state) {
  const page = v.page;
  const casePath = state.casePath;
  const now = new Date(NOW);
  const today = { d: String(now.getUTCDate()), m: String(now.getUTCMonth() + 1), y: String(now.getUTCFullYear()) };
  const yd = yesterday();
  const y = { d: yd.day, m: yd.month, y: yd.year };
  // The practitioner's work: the decision is due today.
  await signIn(v, A.practitioner);
  await v.expectUrl('/work', 'my work');
  await v.expectText('Decision on the referral', 'the decision is due');
  await v.screenshot('my-work');
  await v.goto(`${casePath}/procedure`, 'next steps before the decision');
  await page.click('a:has-text("Record the decision")');
  await v.check('decision form');
  await page.click('button:has-text("Record the decision")');
  await v.expectErrors('a decision with nothing chosen');
  await page.check('input[name=outcome][value=strategy_discussion]');
  await page.fill('#reasons', 'An adult is arranging to meet a child.');
  await page.click('button:has-text("Record the decision")');
  await v.expectText('Waiting for a manager to approve it', 'waiting for approval');
  await signOut(v);
  // The manager approves it from Team work.
  await signIn(v, A.manager);
  await v.expectUrl('/work/team', 'team work');
  await v.expectText('Waiting for a manager\'s approval (1)', 'the decision waits for the manager');
  await v.screenshot('team-work');
  await page.click('a:has-text("See everything waiting for approval")');
  await v.expectUrl('/work/team/approvals', 'the approvals list');
  await v.check('approvals list');
  await v.fitsPhone('approvals list');
  await page.click('#waiting a');
  await page.click('button:has-text("Approve the decision")');
  await v.expectText('Approved by', 'approved');
  await signOut(v);
  // Two strategy discussions: yesterday (an enquiry for Juniper), then this morning (both).
  await signIn(v, A.practitioner);
  await holdDiscussion(v, casePath, { ...y, t: '14:00' }, ['Juniper'], { screenshots: true, badInput: true });
  await holdDiscussion(v, casePath, { ...today, t: '09:00' }, ['Juniper', 'Rowan']);
  await v.goto(`${casePath}/procedure`, 'next steps after two discussions');
  await v.expectText('Initial child protection conference: Juniper Ashcombe', 'the conference clock');
  await v.expectText('The partnership\'s local rule', 'both dates shown');
  await v.screenshot('next-steps-and-deadlines');
  // Outcomes for each child.
  await page.click('a:has-text("Record the outcome for Juniper")');
  await page.check('input[name=outcome][value=likely_significant_harm]');
  await page.click('button:has-text("Propose the outcome")');
  await page.click('a:has-text("Record the outcome for Rowan")');
  await page.check('input[name=outcome][value=not_substantiated]');
  await page.click('button:has-text("Propose the outcome")');
  await v.expectErrors('no further action without reasons');
  await page.fill('#reasons', 'Rowan had no contact with the adult.');
  await page.click('button:has-text("Propose the outcome")');
  await v.check('outcomes proposed');
  await signOut(v);
  await signIn(v, A.manager);
  await v.goto(`${casePath}/procedure`, 'outcomes to approve');
  await page.click('button:has-text("Approve the outcome for Juniper")');
  await page.click('button:has-text("Approve the outcome for Rowan")');
  await v.expectText('Outcome: Concerns not substantiated', 'approved outcome');
  await signOut(v);
  // The conference for Juniper this morning, then her core group.
  await signIn(v, A.practitioner);
  await v.goto(`${casePath}/conferences/new`, 'record a conference');
  await page.check('input[name=child] >> nth=0');
  await page.check('input[name=kind][value=initial]');
  await fillDate(page, 'held', String(Number(y.d) - 1 || 1), y.m, y.y);
  await page.fill('#time', '10:00');
  await page.fill('#chair', 'Ruth Adebayo (independent chair)');
  await page.check('input[name=plan][value=yes]');
  await page.check('input[name=category][value=sexual_abuse]');
  await page.fill('#lead', 'Sam Whitlock');
  await page.click('button:has-text("Save")');
  await v.expectErrors('a conference before the enquiry started', { '#chair': 'Ruth Adebayo (independent chair)' });
  await fillDate(page, 'held', today.d, today.m, today.y);
  await page.click('button:has-text("Save")');
  await v.expectText('Initial child protection conference on', 'the conference is recorded');
  await page.click('a:has-text("Record a core group meeting")');
  await page.check('input[name=child] >> nth=0');
  await fillDate(page, 'held', today.d, today.m, today.y);
  await page.fill('#time', '10:15');
  await page.click('button:has-text("Save")');
  await v.expectText('Review child protection conference: Juniper Ashcombe', 'the review clock started');
  await v.check('next steps after the conference');
  // The calculator, from My work.
  await v.goto('/work', 'my work after the conference');
  await page.click('a:has-text("Work out a date in working days")');
  await fillDate(page, 'from', '3', '12', '2026');
  await page.fill('#days', '15');
  await page.click('button:has-text("Work it out")');
  await v.expectText('Thursday 24 December 2026', 'the calculator');
}

// The LADO path -----------------------------------------------------------------------------------

export async function ladoOpensAnAllegationAndWorksItToAnOutcome(v, state) {
  const page = v.page;
  const yd = yesterday();
  await signIn(v, A.lado);
  // The last code used may still be this 30 seconds' one: a code is never accepted twice.
  for (const ahead of [0, 30]) {
    await page.fill('#code', totp(state.ladoSecret, Date.now() / 1000 + ahead));
    await page.click('button:has-text("Continue")');
    if (new URL(page.url()).pathname === '/work/team') break;
  }
  await v.expectUrl('/work/team', 'the LADO signed in');
  await page.click('.govuk-service-navigation a:has-text("LADO")');
  await v.expectUrl('/lado', 'the LADO dashboard');
  await v.check('LADO dashboard (empty)');
  await page.click('a:has-text("Open an allegation")');
  await v.check('open an allegation');
  await page.click('button:has-text("Open the allegation")');
  await v.expectErrors('an allegation with nothing typed');
  await page.check('input[name=contact_kind][value=phone]');
  await fillDate(page, 'contact', yd.day, yd.month, yd.year);
  await page.fill('#contact_time', '09:30');
  await page.fill('#contact_from', 'Priya Nandakumar, DSL, Fernhill Academy');
  await page.fill('#subject_name', 'Wendell Ashgrove');
  await page.fill('#subject_role', 'Teaching assistant');
  await page.fill('#subject_employer', 'Fernhill Academy');
  await page.check('input[name=setting][value=school]');
  await fillDate(page, 'arose', yd.day, yd.month, yd.year);
  await page.fill('#arose_time', '09:00');
  await page.fill('#concern_how', 'A pupil showed the DSL messages sent to her on a gaming platform.');
  await page.check('input[name=conduct][value=outside_work]');
  await page.click('button:has-text("Open the allegation")');
  await v.expectText('Restricted allegation', 'the allegation is open');
  await v.screenshot('lado-allegation');
  // Telling a manager: a time before the concern arose is refused, with what was typed kept.
  await page.click('#step-tell_manager a:has-text("Record")');
  await v.check('record a step');
  await page.check('input[name=route][value=line_manager]');
  await fillDate(page, 'done', yd.day, yd.month, yd.year);
  await page.fill('#time', '08:00');
  await page.fill('#done_by', 'Morag Ellery, deputy head');
  await page.click('button:has-text("Save")');
  await v.expectErrors('a step before the concern arose', { '#done_by': 'Morag Ellery, deputy head' });
  await page.fill('#time', '10:00');
  await page.click('button:has-text("Save")');
  await v.expectText('Done on', 'the step is done');
  // Securing the device, after the close of the working day: a breach.
  await page.click('#step-secure_device a:has-text("Record")');
  await fillDate(page, 'done', yd.day, yd.month, yd.year);
  await page.fill('#time', '18:00');
  await page.fill('#done_by', 'Morag Ellery, deputy head');
  await page.click('button:has-text("Save")');
  await v.expectText('Done late: breach', 'the late step is a breach');
  // The device's custody.
  await page.click('a:has-text("Record a secured device")');
  await page.fill('#description', 'School laptop, asset tag 4471');
  await page.fill('#location', 'The head teacher\'s safe');
  await page.fill('#secured_by', 'Morag Ellery');
  await fillDate(page, 'secured', yd.day, yd.month, yd.year);
  await page.fill('#time', '18:00');
  await page.click('button:has-text("Save")');
  await page.click('a:has-text("Print the evidence trail")');
  await v.check('evidence trail to print');
  await page.click('a:has-text("Back to the allegation")');
  // A document: a photograph renamed to look like a PDF is refused with the reason; the
  // employer's minutes are kept.
  await page.click('a:has-text("Add a document")');
  await v.expectText('Never add images or videos', 'the upload page warns first');
  await v.fitsPhone('the upload page');
  await page.setInputFiles('#file', { name: 'statement.pdf', mimeType: 'application/pdf', buffer: (await import('node:fs')).readFileSync(path.join(FIXTURES, 'square.jpg')) });
  await page.fill('#description', 'Statement from the deputy head');
  await page.click('button:has-text("Add the document")');
  await v.expectErrors('a picture renamed as a PDF', { '#description': 'Statement from the deputy head' });
  await v.expectText('This is a JPEG image', 'the refusal says why');
  await v.screenshot('document-refused');
  await page.setInputFiles('#file', path.join(FIXTURES, 'text.pdf'));
  await page.fill('#description', 'Initial evaluation minutes');
  await page.click('button:has-text("Add the document")');
  await v.expectText('Document added: text.pdf (Initial evaluation minutes).', 'the document is on the allegation');
  // The threshold, and the police strand.
  await page.click('a:has-text("Record whether the harm test is met")');
  await v.check('threshold');
  await page.check('input[name=harm_tests][value=unsuitable]');
  await page.click('button:has-text("Save")');
  await page.click('a:has-text("Change the police strand")');
  await page.check('input[name=status][value=concluded]');
  await page.fill('#owner', 'DC Tunde Okafor');
  await page.click('button:has-text("Save")');
  // The outcome: without a date of birth the review date cannot be worked out.
  await page.click('a:has-text("Record the outcome")');
  await v.check('the outcome form');
  await page.check('input[name=outcome][value=unsubstantiated]');
  await fillDate(page, 'on', yd.day, yd.month, yd.year);
  await page.fill('#reasons', 'Not enough evidence either way.');
  await page.check('input[name=dbs_referred][value=no]');
  await page.fill('#dbs_not_referred_reason', 'Not substantiated.');
  await page.click('button:has-text("Record the outcome and close the allegation")');
  await v.expectErrors('an outcome without a date of birth', { '#reasons': 'Not enough evidence either way.' });
  await fillDate(page, 'dob', '14', '5', '1990');
  await page.click('button:has-text("Record the outcome and close the allegation")');
  await v.expectText('An outcome has been recorded and the allegation is closed.', 'closed');
  await v.expectText('14 May 2058', 'the review date');
  // The dashboard lists the breach.
  await v.goto('/lado', 'the dashboard with a breach');
  await v.expectText('Securing the device', 'the breach is listed');
  await v.screenshot('lado-dashboard');
  // The year's figures: a period that cannot be, then this reporting year.
  await page.setViewportSize({ width: 1024, height: 800 });
  await page.click('a:has-text("Annual figures")');
  await v.check('annual figures for the last reporting year');
  await fillDate(page, 'from', '31', '2', '2026');
  await fillDate(page, 'to', '31', '3', '2027');
  await page.click('button:has-text("Show the figures")');
  await v.expectErrors('a period starting on 31 February', { '#from-day': '31' });
  await fillDate(page, 'from', '1', '4', '2026');
  await page.click('button:has-text("Show the figures")');
  await v.expectText('1 April 2026 to 31 March 2027', 'this reporting year');
  await v.expectText('1 (100%)', 'one contact, an allegation');
  await page.setViewportSize({ width: 375, height: 800 });
  await v.check('the annual figures on a phone');
  await v.goto('/lado', 'the dashboard on a phone');
  await v.check('the LADO dashboard on a phone');
}

export async function aPractitionerAsksToOpenARestrictedRecord(v) {
  const page = v.page;
  await signIn(v, A.practitioner);
  await v.goto('/access-requests', 'ask to open a restricted record');
  await page.click('button:has-text("Send the request")');
  await v.expectErrors('a request with nothing typed');
  await page.fill('#reference', 'LADO-2026-000001');
  await page.fill('#reason', 'I am the social worker for the child who made the allegation.');
  await page.click('button:has-text("Send the request")');
  await v.expectText('Request sent', 'the request is sent');
}
