// Progressive enhancement only: every page works without this file.
import { initAll } from '/static/govuk/govuk-frontend.min.js'

document.body.classList.add('govuk-frontend-supported')
initAll()

// The print page's button (without JavaScript, the page says how to use the browser's own).
for (const button of document.querySelectorAll('[data-haven-print]')) {
  button.hidden = false
  button.addEventListener('click', () => window.print())
}
