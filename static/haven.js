// Progressive enhancement only: every page works without this file.
import { initAll } from '/static/govuk/govuk-frontend.min.js'

document.body.classList.add('govuk-frontend-supported')
initAll()

// The print page's button (without JavaScript, the page says how to use the browser's own).
for (const button of document.querySelectorAll('[data-haven-print]')) {
  button.hidden = false
  button.addEventListener('click', () => window.print())
}

// The timeout warning: two minutes before the session's idle limit, a dialog offers to stay
// signed in. Without JavaScript (or if nobody answers), a form sent after the limit is held
// by the server until the person signs in again, so nothing typed is lost either way.
const timeout = document.getElementById('haven-timeout')
if (timeout && typeof timeout.showModal === 'function') {
  const idle = Number(timeout.dataset.idleSeconds) * 1000
  const warning = Math.min(120000, idle / 2)
  const countdown = timeout.querySelector('[data-haven-countdown]')
  const stay = timeout.querySelector('[data-haven-stay]')
  let warnTimer = null
  let tick = null
  // Once the session has ended, the button only closes the dialog (the page stays, with what
  // was typed in it).
  let ended = false
  const signedOut = (words) => {
    clearInterval(tick)
    ended = true
    document.getElementById('haven-timeout-text').textContent = words
    stay.textContent = 'Close'
    stay.focus()
  }
  const words = (ms) => {
    const s = Math.max(0, Math.ceil(ms / 1000))
    return s >= 60 ? `${Math.ceil(s / 60)} minute${Math.ceil(s / 60) === 1 ? '' : 's'}` : `${s} seconds`
  }
  const schedule = () => {
    clearTimeout(warnTimer)
    clearInterval(tick)
    warnTimer = setTimeout(warn, idle - warning)
  }
  const warn = () => {
    const ends = Date.now() + warning
    countdown.textContent = words(warning)
    timeout.showModal()
    stay.focus()
    tick = setInterval(() => {
      const left = ends - Date.now()
      // Spoken every 20 seconds at most, not every second.
      if (left <= 0) {
        signedOut('You have been signed out. What you typed is kept: send the form, sign in again, and Haven will offer to send it.')
      } else if (Math.ceil(left / 1000) % 20 === 0 || left < 60000) {
        countdown.textContent = words(left)
      }
    }, 1000)
  }
  const keepAlive = async () => {
    if (ended) {
      timeout.close()
      return
    }
    const token = document.querySelector('input[name=_csrf]')?.value ?? ''
    const response = await fetch('/account/keep-alive', {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ _csrf: token }),
    }).catch(() => null)
    if (response && response.status === 204) {
      timeout.close()
      schedule()
    } else {
      signedOut('Haven could not keep you signed in. What you typed is kept: send the form, sign in again, and Haven will offer to send it.')
    }
  }
  stay.addEventListener('click', keepAlive)
  timeout.addEventListener('cancel', (event) => {
    event.preventDefault()
    keepAlive()
  })
  schedule()
}
