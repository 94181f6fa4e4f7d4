// What every screen of the candidate page shares: the page state, storage,
// showing a screen, live regions, the organisation's notice and contact, the
// messages, and formatting. Loaded with the welcome screen (app.js) and used
// by the running assessment (session.js) too.
// Candidate-facing text from the server is always set with textContent.

const EMAIL = /^[^\s@<>"]+@[^\s@<>"]+\.[^\s@<>"]+$/;

export const $ = (id) => document.getElementById(id);
export const debug = (...args) => { if (window.HIREMATE_DEBUG) console.debug('[hiremate]', ...args); };

// ------------------------------------------------------------------ storage

/**
 * localStorage if it works; else sessionStorage (a reload in this tab keeps
 * the place, closing the tab does not); else none: the page works in memory
 * and says that closing or reloading it would lose the place.
 */
export function safeStorage() {
  const kinds = [['local', () => window.localStorage], ['session', () => window.sessionStorage]];
  for (const [kind, get] of kinds) {
    try {
      const s = get();
      const probe = '__hm_probe__';
      s.setItem(probe, '1');
      s.removeItem(probe);
      return { storage: s, kind };
    } catch { /* blocked or private mode: try the next */ }
  }
  return { storage: null, kind: null };
}

/** A short, stable name for a token (storage keys; the token itself is not stored). */
export function tokenTag(token) {
  let h1 = 0x811c9dc5;
  let h2 = 0x01000193;
  for (let i = 0; i < token.length; i += 1) {
    const c = token.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 0x01000193) >>> 0;
    h2 = Math.imul(h2 ^ c, 0x5bd1e995) >>> 0;
  }
  return h1.toString(16).padStart(8, '0') + h2.toString(16).padStart(8, '0');
}

export function readPageState() {
  const el = document.getElementById('hm-state');
  if (!el) return null;
  try {
    return JSON.parse(el.textContent);
  } catch {
    return null;
  }
}

export function readJson(storage, key, fallback) {
  if (!storage) return fallback;
  try {
    const v = JSON.parse(storage.getItem(key) || 'null');
    return v === null ? fallback : v;
  } catch {
    return fallback;
  }
}

export function writeJson(storage, key, value) {
  if (!storage) return;
  try { storage.setItem(key, JSON.stringify(value)); } catch { /* quota: keep going in memory */ }
}

// ------------------------------------------------------------------ screens

const SCREENS = ['loading', 'message', 'welcome', 'task', 'waiting', 'done'];
// The organisation's notice (page state / assessment_info), once known: names
// the organisation and its contact in titles, help and messages.
let NOTICE = null;

export function setNotice(notice) { NOTICE = notice; }
export function currentNotice() { return NOTICE; }

/** A socket URL on this page's own host, ws: or wss: like the page. */
export function socketUrl(path) {
  const scheme = window.location.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${scheme}//${window.location.host}${path}`;
}

export function orgName() { return (NOTICE && NOTICE.organization_name) || ''; }
function contactText() { return (NOTICE && NOTICE.contact) || ''; }

/** "contact Acme at jobs@acme.example", as specific as what is known. */
export function contactPhrase() {
  const org = orgName();
  const contact = contactText();
  if (org && contact) return `contact ${org} at ${contact}`;
  if (contact) return `contact ${contact}`;
  if (org) return `contact ${org}`;
  return 'contact the recruiter who sent you the link';
}

export function setTitle(prefix) {
  const org = orgName();
  const suffix = org ? `${org} assessment` : 'HireMate assessment';
  document.title = prefix ? `${prefix} – ${suffix}` : suffix;
}

export function show(name, focusId, title) {
  for (const s of SCREENS) $(`screen-${s}`).hidden = s !== name;
  // The storage note matters only while there is a place to lose.
  $('storage-note').hidden = !$('storage-note').textContent || !['welcome', 'task', 'waiting'].includes(name);
  if (title !== undefined) setTitle(title);
  const target = focusId ? $(focusId) : null;
  if (target) {
    try { target.focus({ preventScroll: true }); } catch { target.focus(); }
  }
  window.scrollTo(0, 0);
}

/** Set a live region's text so that it is announced even if it has not changed. */
const announcing = new WeakMap(); // element -> its pending announcement

/** Say `text` in a live region: emptied first, so the same words are announced again.
 * A newer announcement replaces one still pending (a fast answer must not be overwritten by "Sending…"). */
export function announce(el, text) {
  clearTimeout(announcing.get(el));
  el.textContent = '';
  announcing.set(el, setTimeout(() => { el.textContent = text; }, 60));
}

/** Empty a live region, and drop an announcement still pending in it. */
export function quiet(el) {
  clearTimeout(announcing.get(el));
  el.textContent = '';
}

function contactNode(contact) {
  if (EMAIL.test(contact)) {
    const a = document.createElement('a');
    a.href = `mailto:${contact}`;
    a.textContent = contact;
    return a;
  }
  const span = document.createElement('span');
  span.textContent = contact;
  return span;
}

/** The help line in the header, the same on every screen once the contact is known. */
export function renderHelp() {
  const el = $('help-contact');
  const contact = contactText();
  if (!contact) {
    el.replaceChildren();
    el.hidden = true;
    return;
  }
  el.replaceChildren(document.createTextNode('Questions or need help? Contact '), contactNode(contact));
  el.hidden = false;
}

export const MESSAGES = {
  not_found: () => ['This link is not valid',
    'Please check that you opened the whole link from your invitation. If it still does not work, ask the recruiter who sent it for a new link.'],
  completed: () => ['This assessment has been completed',
    'Thank you. There is nothing more to do here; you can close this page.'],
  expired: (who) => ['This link has expired',
    `The time to take this assessment has passed. If you think this is a mistake, or you need more time, ${who}.`],
  locked: (who) => ['This assessment is closed',
    `${orgName() || 'The organisation'} has closed this assessment. If you have questions, ${who}.`],
  replaced: (who) => ['This link was replaced by a newer link',
    `${orgName() || 'The organisation'} sent you a newer link for this assessment, so this one no longer works. Please open the newest link you received. If you cannot find it, ${who}.`],
  already_used: (who) => ['This link is already in use',
    'This assessment was started with this link on another device or in another browser, and it can only continue there. '
    + 'If you started it here, this browser did not keep the page\u2019s data (for example it was closed or reloaded in private mode, or with storage blocked). '
    + `Your answers so far are kept: to continue here, ${who} and ask for a new link.`],
  taken_over: (who) => ['The assessment continued in another tab or on another device',
    `This page has stopped so that nothing is recorded twice. Your answers so far are kept. If this was not you, ${who}.`],
  closed: (who) => ['This assessment is no longer open',
    `It cannot take more answers. If you think this is a mistake, ${who}.`],
  no_storage_conflict: (who) => ['Something went wrong',
    `Please reload the page. If the problem continues, ${who}.`],
};

export function showMessage(kind, { extra = '', action = null } = {}) {
  const [title, body] = (MESSAGES[kind] || MESSAGES.no_storage_conflict)(contactPhrase());
  $('message-title').textContent = title;
  $('message-body').textContent = body;
  $('message-extra').textContent = extra;
  $('message-extra').hidden = !extra;
  const btn = $('message-action');
  if (action) {
    btn.textContent = action.label;
    btn.hidden = false;
    btn.onclick = action.run; // property assignment, not an inline attribute (CSP-safe)
  } else {
    btn.hidden = true;
    btn.onclick = null;
  }
  setNetStatus('');
  show('message', 'message-title', title);
}

export function setNetStatus(text) {
  $('net-status').textContent = text;
}

const DATE_FORMAT = {
  year: 'numeric', month: 'long', day: 'numeric', hour: 'numeric', minute: '2-digit', timeZoneName: 'short',
};

export function formatDate(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  try {
    return new Intl.DateTimeFormat(undefined, DATE_FORMAT).format(d);
  } catch {
    return d.toLocaleString();
  }
}

export const formatInt = (n) => {
  try { return new Intl.NumberFormat('en').format(n); } catch { return String(n); }
};

/** 730 -> "about 2 years (730 days)". */
export function retentionWords(days) {
  const d = Math.round(Number(days));
  if (!Number.isFinite(d) || d <= 0) return '';
  const exact = `${formatInt(d)} ${d === 1 ? 'day' : 'days'}`;
  if (d >= 335) {
    const years = Math.round((d / 365) * 2) / 2;
    return `about ${years} ${years === 1 ? 'year' : 'years'} (${exact})`;
  }
  if (d >= 56) {
    const months = Math.round(d / 30.4);
    return `about ${months} months (${exact})`;
  }
  return exact;
}
