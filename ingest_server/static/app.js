// The candidate page: screens, DOM listeners, and the wiring of the outbox
// (outbox.js), the socket (connection.js) and the capture (capture.js).
// Candidate-facing text from the server is always set with textContent.

import { Connection, requestAccommodation, sendSelfIdentification } from './connection.js';
import { Tracker } from './capture.js';
import { Outbox } from './outbox.js';
import { pyLen, pyStrip, utf8Bytes } from './text.js';

const MAX_REASONING_BYTES = 44 * 1024; // keeps reasoning_submitted well under a 48 KiB batch
const REASONING_LIMIT = 10000; // the box's maxlength (UTF-16 units, as the browser counts them)
const REASONING_NEAR = 9000; // from here the counter is announced
const NOTE_LIMIT = 2000; // the accommodation request's note
const OFFLINE_GRACE_MS = 1200;
const COMPLETE_NUDGE_MS = 4000;
const POINTER_THROTTLE_MS = 250;
// How long a keydown/pointerdown/touchstart tells how the next change was made.
const INPUT_WINDOW_MS = 1000;
// A focus this soon after a (non-repeat) key press was moved by the keyboard.
const KEYED_FOCUS_MS = 500;
const EMAIL = /^[^\s@<>"]+@[^\s@<>"]+\.[^\s@<>"]+$/;

const $ = (id) => document.getElementById(id);
const debug = (...args) => { if (window.HIREMATE_DEBUG) console.debug('[hiremate]', ...args); };

// ------------------------------------------------------------------ storage

/**
 * localStorage if it works; else sessionStorage (a reload in this tab keeps
 * the place, closing the tab does not); else none: the page works in memory
 * and says that closing or reloading it would lose the place.
 */
function safeStorage() {
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
function tokenTag(token) {
  let h1 = 0x811c9dc5;
  let h2 = 0x01000193;
  for (let i = 0; i < token.length; i += 1) {
    const c = token.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 0x01000193) >>> 0;
    h2 = Math.imul(h2 ^ c, 0x5bd1e995) >>> 0;
  }
  return h1.toString(16).padStart(8, '0') + h2.toString(16).padStart(8, '0');
}

function readPageState() {
  const el = document.getElementById('hm-state');
  if (!el) return null;
  try {
    return JSON.parse(el.textContent);
  } catch {
    return null;
  }
}

function readJson(storage, key, fallback) {
  if (!storage) return fallback;
  try {
    const v = JSON.parse(storage.getItem(key) || 'null');
    return v === null ? fallback : v;
  } catch {
    return fallback;
  }
}

function writeJson(storage, key, value) {
  if (!storage) return;
  try { storage.setItem(key, JSON.stringify(value)); } catch { /* quota: keep going in memory */ }
}

// ------------------------------------------------------------------ screens

const SCREENS = ['loading', 'message', 'welcome', 'task', 'waiting', 'done'];
// The organisation's notice (page state / assessment_info), once known: names
// the organisation and its contact in titles, help and messages.
let NOTICE = null;

const PREFER_NOT_TO_SAY = 'prefer_not_to_say';

/** A socket URL on this page's own host, ws: or wss: like the page. */
function socketUrl(path) {
  const scheme = window.location.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${scheme}//${window.location.host}${path}`;
}

function orgName() { return (NOTICE && NOTICE.organization_name) || ''; }
function contactText() { return (NOTICE && NOTICE.contact) || ''; }

/** "contact Acme at jobs@acme.example", as specific as what is known. */
function contactPhrase() {
  const org = orgName();
  const contact = contactText();
  if (org && contact) return `contact ${org} at ${contact}`;
  if (contact) return `contact ${contact}`;
  if (org) return `contact ${org}`;
  return 'contact the recruiter who sent you the link';
}

function setTitle(prefix) {
  const org = orgName();
  const suffix = org ? `${org} assessment` : 'HireMate assessment';
  document.title = prefix ? `${prefix} – ${suffix}` : suffix;
}

function show(name, focusId, title) {
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
function announce(el, text) {
  clearTimeout(announcing.get(el));
  el.textContent = '';
  announcing.set(el, setTimeout(() => { el.textContent = text; }, 60));
}

/** Empty a live region, and drop an announcement still pending in it. */
function quiet(el) {
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
function renderHelp() {
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

const MESSAGES = {
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

function showMessage(kind, { extra = '', action = null } = {}) {
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

function setNetStatus(text) {
  $('net-status').textContent = text;
}

const DATE_FORMAT = {
  year: 'numeric', month: 'long', day: 'numeric', hour: 'numeric', minute: '2-digit', timeZoneName: 'short',
};

function formatDate(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  try {
    return new Intl.DateTimeFormat(undefined, DATE_FORMAT).format(d);
  } catch {
    return d.toLocaleString();
  }
}

const formatInt = (n) => {
  try { return new Intl.NumberFormat('en').format(n); } catch { return String(n); }
};

/** 730 -> "about 2 years (730 days)". */
function retentionWords(days) {
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

// ------------------------------------------------------------------ the app

class App {
  constructor(page) {
    this.page = page;
    this.token = page.token;
    this.totalTasks = Number.isInteger(page.total_tasks) ? page.total_tasks : null;
    const { storage, kind } = safeStorage();
    this.storage = storage;
    this.storageKind = kind; // 'local' | 'session' | null
    this.ns = `hm.${tokenTag(this.token)}`;
    this.uiKey = `${this.ns}.ui`;
    this.ownerKey = `${this.ns}.owner`;
    this.tabId = Math.random().toString(36).slice(2) + Date.now().toString(36);
    this.ui = readJson(this.storage, this.uiKey, { tasks: {}, answers: {} });
    if (!this.ui.tasks) this.ui.tasks = {};
    if (!this.ui.answers) this.ui.answers = {};

    this.shown = { index: null, task: null };
    this.requestedIndex = null;
    this.sessionReady = false;
    this.finishing = false;
    this.finished = false;
    this.completeTimer = null;
    this.offlineTimer = null;
    this.textSaveTimer = null;
    this.minMetAnnounced = false;
    this.limitAnnounced = 0; // 1: near the reasoning limit was said, 2: at it
    this.saving = false;
    this.starting = false;
    this.continuing = false;
    this.paused = false; // input paused while the outbox is full (window.hiremate.paused)
    this.waitingShown = false;
    this.focusBeforePause = null;
    this.lastInput = { kind: null, at: 0, repeat: false };
    this.sendingRequest = false;

    const app = this;
    const ctx = { // what the rules need to know about tasks (see rules.js)
      indexOf: (taskId) => app.indexOfTask(taskId),
      task: (taskId) => app.taskById(taskId),
      get totalTasks() { return app.totalTasks; },
    };
    this.outbox = new Outbox({ storage: this.storage, ns: this.ns, ctx, log: debug });
    this.tracker = new Tracker({
      outbox: this.outbox,
      taskIdAt: (index) => (this.ui.tasks[index] ? this.ui.tasks[index].id : undefined),
      onAnswerChange: (answer) => this.saveAnswer(answer),
      onFocusChange: (trigger) => {
        this.ui.focusLost = trigger;
        this.flushUi();
      },
      log: debug,
      assistive: Boolean(page.accommodations && page.accommodations.assistive_technology),
    });
    this.conn = new Connection({
      url: socketUrl(page.ws_path || `/ws/assessment/${encodeURIComponent(this.token)}`),
      outbox: this.outbox,
      WebSocketImpl: window.WebSocket,
      onEvent: (kind, data) => this.onSocket(kind, data),
      probeState: () => this.probeState(),
      log: debug,
    });
    this.outbox.onChange(() => this.onOutboxChange());
    this.outbox.onFullChange((full) => this.setPaused(full));
    NOTICE = page.notice || null;
    window.hiremate = this; // for debugging and end-to-end tests
  }

  // -------------------------------------------------------------- tasks cache

  indexOfTask(taskId) {
    for (const [i, t] of Object.entries(this.ui.tasks)) if (t && t.id === taskId) return Number(i);
    return undefined;
  }

  taskById(taskId) {
    for (const t of Object.values(this.ui.tasks)) if (t && t.id === taskId) return t;
    return undefined;
  }

  saveUi() { writeJson(this.storage, this.uiKey, this.ui); }

  saveAnswer(answer) {
    if (!answer.taskId) return;
    this.ui.answers[answer.taskId] = answer;
    if (this.textSaveTimer) clearTimeout(this.textSaveTimer);
    this.textSaveTimer = setTimeout(() => { this.textSaveTimer = null; this.saveUi(); }, 300);
  }

  flushUi() {
    if (this.textSaveTimer) {
      clearTimeout(this.textSaveTimer);
      this.textSaveTimer = null;
    }
    this.saveUi();
  }

  forgetLocal() {
    this.outbox.clear();
    if (this.storage) {
      for (const k of [this.uiKey, this.ownerKey]) {
        try { this.storage.removeItem(k); } catch { /* ignore */ }
      }
    }
    this.ui = { tasks: {}, answers: {} };
  }

  // -------------------------------------------------------------- boot

  boot() {
    const state = this.page.state;
    renderHelp();
    this.renderStorageNote();
    if (['not_found', 'completed', 'expired', 'locked', 'replaced'].includes(state)) {
      this.forgetLocal();
      showMessage(state);
      return;
    }
    this.listen();
    const hasSession = this.outbox.load();
    if (state === 'in_progress' && hasSession) {
      this.claimAndResume();
      return;
    }
    if (state === 'pending' && hasSession) this.forgetLocal(); // a key the server never honoured
    this.showWelcome(state === 'in_progress');
  }

  /** Take what the server says now (assessment_info or the page state again). */
  absorb(src) {
    if (!src || typeof src !== 'object') return;
    for (const key of ['notice', 'accommodations', 'finish_by', 'grace_hours', 'accommodation_request', 'expires_at',
      'self_identification']) {
      if (key in src) this.page[key] = src[key];
    }
    NOTICE = this.page.notice || NOTICE;
    this.tracker.assistive = Boolean(this.page.accommodations && this.page.accommodations.assistive_technology);
    renderHelp();
    if (!$('screen-welcome').hidden) this.renderWelcome();
  }

  renderStorageNote() {
    const el = $('storage-note');
    if (this.storageKind === 'local') el.textContent = '';
    else if (this.storageKind === 'session') {
      el.textContent = 'This browser does not let this page keep your place once it is closed. '
        + 'Please keep this page open until you have finished: closing it would lose your place.';
    } else {
      el.textContent = 'This browser does not let this page save your place. '
        + 'Please keep this page open until you have finished: closing or reloading it would lose your place.';
    }
    $('welcome-keep').hidden = this.storageKind !== 'local';
  }

  showWelcome(continuing) {
    this.continuing = continuing;
    this.starting = false;
    this.renderWelcome();
    $('start-button').removeAttribute('aria-disabled');
    quiet($('welcome-status'));
    $('start-button').onclick = () => this.onStart();
    $('accommodation-button').onclick = () => this.toggleAccommodation();
    $('accommodation-cancel').onclick = () => this.toggleAccommodation(false);
    $('accommodation-form').onsubmit = (e) => this.sendAccommodation(e);
    $('accommodation-note').oninput = () => this.updateNoteCounter();
    show('welcome', 'welcome-title', 'Welcome');
  }

  /** The welcome's text from the page state: who asks, the notice, the deadlines. */
  renderWelcome() {
    const p = this.page;
    const n = p.notice || {};
    const org = n.organization_name || '';
    $('welcome-name').textContent = p.candidate_name ? `, ${p.candidate_name}` : '';
    $('welcome-org').textContent = org ? `${org} asks you to take this short assessment.` : '';
    $('welcome-org').hidden = !org;
    $('welcome-position').textContent = p.position ? `It is for the position of ${p.position}.` : '';
    $('welcome-position').hidden = !p.position;
    const count = this.totalTasks;
    $('welcome-tasks').textContent = count ? `It has ${count} short ${count === 1 ? 'task' : 'tasks'}, shown one at a time.` : '';
    $('welcome-tasks').hidden = !count;

    const recruiters = org ? `${org}\u2019s recruiters` : 'The organisation\u2019s recruiters';
    $('notice-who').textContent = `${recruiters} see the profile. A person reviews it: no decision is made automatically.`;
    const kept = retentionWords(n.retention_days);
    $('notice-kept').textContent = kept ? `It is kept for ${kept}.` : '';
    $('notice-kept').hidden = !kept;
    const contact = n.contact ? `, or ${contactPhrase()}` : '';
    $('notice-help').textContent = 'If you need an accommodation, for example more time or the use of assistive technology '
      + 'such as a screen reader, or if you would like another way to be assessed, please ask before you start: '
      + `use the button below${contact}.`;
    const additions = typeof n.additions === 'string' ? n.additions.trim() : '';
    $('notice-additions-title').textContent = org ? `A note from ${org}` : 'A note from the organisation';
    $('notice-additions-title').hidden = !additions;
    $('notice-additions').textContent = additions;
    $('notice-additions').hidden = !additions;
    this.renderAccommodationSent();

    const start = formatDate(p.expires_at);
    const finish = formatDate(p.finish_by);
    let when = 'This link works on one device.';
    if (this.continuing && finish) when += ` You can finish until ${finish}.`;
    else if (start && finish && finish !== start) when += ` Start by ${start}. Once you have started, you have until ${finish} to finish.`;
    else if (start) when += ` Start by ${start}.`;
    $('welcome-expiry').textContent = when;

    const cont = $('welcome-continue');
    cont.hidden = !this.continuing;
    cont.textContent = this.storageKind
      ? 'This assessment has already been started. If you started it on another device, please continue there. '
        + 'If you were sent a new link for this device, press Continue.'
      : 'This assessment has already been started. If you started it on another device, please continue there. '
        + 'If you started it here, this browser did not keep the page\u2019s data, so it cannot continue on its own: '
        + `${contactPhrase()} and ask for a new link (your answers so far are kept). If this is a new link you were sent, press Continue.`;
    $('start-button').textContent = this.continuing ? 'Continue' : 'Start the assessment';
  }

  onStart() {
    if (this.starting) return;
    const box = $('consent-checkbox');
    if (!box.checked) {
      // Start stays a live button: pressing it early says what is missing.
      announce($('welcome-status'), 'Please tick the box to confirm that you have read what this assessment records and how it is used, then press Start.');
      box.focus();
      return;
    }
    this.starting = true;
    $('start-button').setAttribute('aria-disabled', 'true');
    announce($('welcome-status'), 'Starting…');
    this.claimOwnership();
    const version = this.page.notice && this.page.notice.version;
    this.consentSent = version || null;
    this.conn.start(version ? { notice_version: version } : null);
  }

  /** The server wants the current notice acknowledged (it changed, or none was sent). */
  async onConsentRequired(data) {
    const sent = this.consentSent;
    const fresh = await this.fetchPageState();
    if (fresh) this.absorb(fresh);
    if (this.page.notice && data && data.notice_version) this.page.notice.version = data.notice_version;
    $('consent-checkbox').checked = false;
    this.showWelcome(this.continuing);
    const changed = sent && data && data.notice_version && data.notice_version !== sent;
    announce($('welcome-status'), changed
      ? 'The notice was updated since this page was opened. Please read it again, tick the box and press Start.'
      : 'Please read the notice, tick the box to confirm it, and press Start.');
  }

  // -------------------------------------------------------------- accommodation request

  toggleAccommodation(open = $('accommodation-form').hidden) {
    const form = $('accommodation-form');
    form.hidden = !open;
    $('accommodation-button').setAttribute('aria-expanded', String(open));
    if (open) {
      this.updateNoteCounter();
      form.querySelector('input[name="need"]').focus();
    } else {
      $('accommodation-button').focus();
    }
  }

  updateNoteCounter() {
    const n = $('accommodation-note').value.length;
    $('accommodation-note-counter').textContent = `${formatInt(n)} of ${formatInt(NOTE_LIMIT)} characters`;
  }

  renderAccommodationSent() {
    const req = this.page.accommodation_request;
    const el = $('accommodation-sent');
    const org = orgName() || 'The organisation';
    if (req) {
      const when = formatDate(req.requested_at);
      el.textContent = `You have already sent a request for an accommodation or an alternative${when ? ` (${when})` : ''}. `
        + `${org} will contact you. This link stays valid: you can start when you are ready, or send another request.`;
    }
    el.hidden = !req;
    $('accommodation-button').textContent = req ? 'Send another request' : 'Ask for an accommodation or an alternative';
  }

  async sendAccommodation(event) {
    event.preventDefault(); // form-action 'none': the request goes over a socket of its own
    if (this.sendingRequest) return;
    const form = $('accommodation-form');
    const status = $('accommodation-status');
    const needs = [...form.querySelectorAll('input[name="need"]:checked')].map((el) => el.value);
    const note = $('accommodation-note').value.slice(0, NOTE_LIMIT);
    if (!needs.length && !note.trim()) {
      announce(status, 'Please choose at least one option or write a note, then press Send.');
      form.querySelector('input[name="need"]').focus();
      return;
    }
    this.sendingRequest = true;
    $('accommodation-send').setAttribute('aria-disabled', 'true');
    announce(status, 'Sending your request…');
    const message = await this.postAccommodation({ needs, note });
    this.sendingRequest = false;
    $('accommodation-send').removeAttribute('aria-disabled');
    announce(status, message.text);
    if (message.ok) {
      form.reset();
      this.toggleAccommodation(false);
      this.renderAccommodationSent();
    }
  }

  async postAccommodation(body) {
    const org = orgName() || 'the organisation';
    const result = await requestAccommodation({ url: this.conn.url, ...body, WebSocketImpl: window.WebSocket });
    if (result.ok) {
      this.page.accommodation_request = { requested_at: result.requestedAt || new Date().toISOString() };
      return { ok: true, text: `Your request was sent to ${org}; they will contact you. This link stays valid.` };
    }
    const texts = {
      invalid: 'Your request could not be sent as it is. Please check it and try again.',
      closed: `This assessment is closed, so a request can no longer be sent here. Please ${contactPhrase()} directly.`,
      refused: `The request could not be sent from this link just now. Please try again in a few minutes, or ${contactPhrase()} directly.`,
    };
    return { ok: false, text: texts[result.reason] || `Your request could not be sent: the connection failed. Please try again, or ${contactPhrase()} directly.` };
  }

  claimOwnership() {
    if (this.storage) {
      try { this.storage.setItem(this.ownerKey, this.tabId); } catch { /* ignore */ }
    }
  }

  claimAndResume() {
    $('waiting-title').textContent = 'Reconnecting to your assessment…';
    $('waiting-body').textContent = 'Your answers so far are kept.';
    show('waiting', null, 'Reconnecting');
    this.claimOwnership();
    // Let a previous tab of this link see the claim and stand down before reading its queue.
    setTimeout(() => {
      if (this.stopped) return;
      this.ui = readJson(this.storage, this.uiKey, this.ui);
      if (!this.ui.tasks) this.ui.tasks = {};
      if (!this.ui.answers) this.ui.answers = {};
      this.outbox.load();
      this.restoreOffline();
      this.conn.resume();
    }, 150);
  }

  /** Show the current task from the cache at once, before the socket answers. */
  restoreOffline() {
    const st = this.outbox.state();
    if (this.ui.tasks[st.index] || st.finished) {
      this.beginCapture();
      this.sessionReady = true;
      this.reconcile();
    }
  }

  beginCapture() {
    if (this.tracker.active) return;
    this.tracker.begin();
    if (this.ui.focusLost) {
      // The page was closed or reloaded after a focus_lost: the person is back.
      this.tracker.restoreLost(this.ui.focusLost, document.visibilityState !== 'hidden');
    }
  }

  // -------------------------------------------------------------- socket events

  onSocket(kind, data) {
    debug('socket', kind, data);
    switch (kind) {
      case 'info':
        if (Number.isInteger(data.total_tasks)) this.totalTasks = data.total_tasks;
        this.absorb(data);
        break;
      case 'consent_required':
        this.onConsentRequired(data);
        break;
      case 'stale_session':
        this.conn.stop();
        this.forgetLocal();
        this.conn = this.newConnection();
        this.showWelcome(false);
        break;
      case 'started':
      case 'resumed': {
        const st = data.attempt_status || {};
        if (Number.isInteger(st.total_tasks)) this.totalTasks = st.total_tasks;
        if (kind === 'started') {
          this.ui = { tasks: {}, answers: {} };
          this.saveUi();
        }
        this.beginCapture();
        this.sessionReady = true;
        this.clearOffline();
        this.reconcile();
        break;
      }
      case 'task':
        if (data && data.task && Number.isInteger(data.index)) {
          this.ui.tasks[data.index] = data.task;
          this.saveUi();
          if (this.requestedIndex === data.index) this.requestedIndex = null;
          this.reconcile();
        }
        break;
      case 'task_not_available':
        // The server has not stored the previous task's completion yet.
        this.requestedIndex = null;
        setTimeout(() => this.reconcile(), 1500);
        break;
      case 'completed':
      case 'done':
        this.finish();
        break;
      case 'taken_over':
        this.standDown();
        break;
      case 'already_used':
        this.tracker.stop();
        this.conn.stop();
        this.forgetLocal();
        showMessage('already_used');
        break;
      case 'attempt_closed':
        this.tracker.stop();
        this.conn.stop();
        this.probeState().then((state) => {
          if (state === 'completed') this.finish();
          else {
            this.forgetLocal();
            showMessage(['expired', 'locked', 'not_found', 'replaced'].includes(state) ? state : 'closed');
          }
        });
        break;
      case 'terminal':
        this.tracker.stop();
        if (data.state === 'completed' && (this.finishing || this.outbox.state().finished)) this.finish();
        else {
          this.forgetLocal();
          showMessage(MESSAGES[data.state] ? data.state : 'closed');
        }
        break;
      case 'offline':
      case 'reconnecting':
        this.markOffline();
        this.onOutboxChange(); // a waiting screen says what it waits for now
        break;
      case 'online':
        this.clearOffline();
        this.onOutboxChange();
        break;
      default:
        break;
    }
  }

  newConnection() {
    const c = this.conn;
    return new Connection({
      url: c.url, outbox: this.outbox, WebSocketImpl: window.WebSocket,
      onEvent: (kind, data) => this.onSocket(kind, data), probeState: () => this.probeState(), log: debug,
    });
  }

  markOffline() {
    if (this.offlineTimer || this.finished) return;
    this.offlineTimer = setTimeout(() => {
      this.offlineTimer = null;
      if (!this.conn.ready && !this.finished && !this.conn.stopped) {
        setNetStatus('Reconnecting… your answers are kept.');
      }
    }, OFFLINE_GRACE_MS);
  }

  clearOffline() {
    if (this.offlineTimer) {
      clearTimeout(this.offlineTimer);
      this.offlineTimer = null;
    }
    setNetStatus('');
  }

  /** GET /a/<token> again and read the state the server renders into it. */
  async fetchPageState() {
    try {
      const res = await fetch(window.location.pathname, { cache: 'no-store', credentials: 'same-origin' });
      const html = await res.text();
      const doc = new DOMParser().parseFromString(html, 'text/html');
      const el = doc.getElementById('hm-state');
      return el ? JSON.parse(el.textContent) : null;
    } catch {
      return null;
    }
  }

  async probeState() {
    const page = await this.fetchPageState();
    if (page && page.notice) NOTICE = page.notice; // a replaced link's message names the contact
    return page ? page.state : null;
  }

  standDown() {
    this.stopped = true;
    this.tracker.stop();
    this.conn.stop();
    this.flushUi();
    this.outbox.storage = null; // the other tab owns this device's copy now
    showMessage('taken_over', {
      action: { label: 'Continue here instead', run: () => window.location.reload() },
    });
  }

  finish() {
    if (this.finished) return;
    this.finished = true;
    this.tracker.stop();
    this.conn.stop();
    if (this.completeTimer) clearTimeout(this.completeTimer);
    const sessionKey = this.outbox.sessionKey; // kept in memory for the optional questions only
    this.forgetLocal();
    this.clearOffline();
    this.waitingShown = false;
    show('done', 'done-title', 'Thank you');
    this.offerSelfId(sessionKey);
  }

  // -------------------------------------------------------------- voluntary self-identification

  /** The optional questions below "Thank you", when the organisation asks them (docs/protocol.md v1.3). */
  offerSelfId(sessionKey) {
    if (!this.page.self_identification || !sessionKey || !this.token) return;
    this.selfIdKey = sessionKey;
    const org = orgName() || 'The organisation';
    $('self-id-why').textContent = `${org} asks these two questions to check that this assessment treats people of `
      + 'every sex and race or ethnicity alike: it counts results per group, never per person. Answering is '
      + 'voluntary, and not answering changes nothing for you. Your answers are kept apart from your assessment, '
      + 'are never shown with your results to the people who review them, and are deleted with your data.';
    $('self-id-consent-label').textContent = `I explicitly agree that ${org} keeps my answers, which are sensitive `
      + "personal data, only to check this assessment's fairness.";
    $('self-id-form').onsubmit = (e) => this.sendSelfId(e);
    $('self-id').hidden = false;
  }

  async sendSelfId(event) {
    event.preventDefault(); // form-action 'none': the answers go over a socket of their own
    if (this.sendingSelfId) return;
    const form = $('self-id-form');
    const status = $('self-id-status');
    const picked = (name) => {
      const el = form.querySelector(`input[name="${name}"]:checked`);
      return el ? el.value : null;
    };
    const sex = picked('sex');
    const race = picked('race_ethnicity');
    if (!sex && !race) {
      announce(status, 'Choose an answer to at least one question, or simply close this page: these questions are optional.');
      form.querySelector('input[name="sex"]').focus();
      return;
    }
    const answers = {
      sex: sex || PREFER_NOT_TO_SAY,
      race_ethnicity: race || PREFER_NOT_TO_SAY,
      consent: $('self-id-consent').checked,
    };
    if (!answers.consent && (answers.sex !== PREFER_NOT_TO_SAY || answers.race_ethnicity !== PREFER_NOT_TO_SAY)) {
      announce(status, 'To send these answers, tick the box that agrees to keep them, or choose "Prefer not to say".');
      $('self-id-consent').focus();
      return;
    }
    this.sendingSelfId = true;
    $('self-id-send').setAttribute('aria-disabled', 'true');
    announce(status, 'Sending your answers…');
    const result = await sendSelfIdentification({
      url: socketUrl(`/ws/self-id/${encodeURIComponent(this.token)}`),
      sessionKey: this.selfIdKey,
      answers,
      WebSocketImpl: window.WebSocket,
    });
    this.sendingSelfId = false;
    $('self-id-send').removeAttribute('aria-disabled');
    if (result.ok) {
      form.hidden = true;
      announce(status, 'Thank you: your answers were sent. There is nothing more to do.');
      status.focus();
      return;
    }
    announce(status, result.reason === 'invalid'
      ? 'Your answers could not be recorded as they are. Please check them and try again.'
      : 'Your answers could not be sent just now. Please try again in a moment; you can also simply close this page.');
  }

  // -------------------------------------------------------------- flow

  onOutboxChange() {
    if (this.sessionReady && !this.finished) this.reconcile();
  }

  /** Make the screen match the state: which task is current, or finishing. */
  reconcile() {
    if (this.finished || this.stopped || !this.sessionReady || this.saving) return;
    const st = this.outbox.state();
    if (st.finished) {
      this.showFinishing();
      return;
    }
    const index = st.index;
    if (this.shown.index === index && this.shown.task) return;
    const task = this.ui.tasks[index];
    if (task) {
      this.renderTask(task, index);
      return;
    }
    this.shown = { index: null, task: null };
    if (this.conn.ready) {
      this.showWaiting(index === 0 ? 'Loading the first task…' : 'Loading the next task…',
        'This usually takes a moment. Your answers so far are kept.');
    } else {
      this.showWaiting('Waiting for the connection…', 'The connection to the server was interrupted and the page is '
        + `reconnecting by itself. Your answers so far are kept ${this.storage ? 'on this device' : 'in this page'}, `
        + 'and time spent waiting here is not counted as a pause. Please keep this page open.');
    }
    // Ask only once the server has stored the previous task's completion.
    const confirmed = this.outbox.confirmed();
    if (this.conn.ready && confirmed.index >= index && this.requestedIndex !== index) {
      this.requestedIndex = index;
      this.conn.getTask(index);
    }
  }

  showWaiting(title, body) {
    const wasHidden = $('screen-waiting').hidden;
    if ($('waiting-title').textContent !== title) $('waiting-title').textContent = title;
    if ($('waiting-body').textContent !== body) $('waiting-body').textContent = body;
    if (wasHidden) show('waiting', 'waiting-title', title.replace(/…$/, ''));
    else setTitle(title.replace(/…$/, ''));
    this.waitingShown = true;
    this.updateWait();
  }

  /**
   * While the page cannot proceed, the tracker observes no idle or away time
   * and reports the wait as network_wait when it ends (capture.js setWaiting).
   */
  updateWait() {
    let reason = null;
    if (this.tracker.active && !this.finished) {
      if (this.paused) reason = 'queue_full';
      else if (this.waitingShown) {
        if (!this.conn.ready) reason = 'reconnecting';
        else reason = this.finishing ? 'finishing' : 'next_task';
      }
    }
    this.tracker.setWaiting(reason);
  }

  /** The outbox is full (true) or has drained (false): pause or resume input. */
  setPaused(full) {
    if (full === this.paused) return;
    this.paused = full;
    const form = $('task-form');
    const status = $('pause-status');
    if (full) {
      this.tracker.commitSelection();
      const active = document.activeElement;
      this.focusBeforePause = active && form.contains(active) ? active : null;
      form.inert = true;
      form.setAttribute('aria-busy', 'true');
      status.textContent = 'Saving your answers… please wait a moment before continuing.';
      if (this.focusBeforePause && !$('screen-task').hidden) status.focus(); // not lost to the page body
    } else {
      form.inert = false;
      form.removeAttribute('aria-busy');
      status.textContent = 'Your answers are saved. You can continue.';
      setTimeout(() => { if (!this.paused) status.textContent = ''; }, 4000);
      const back = this.focusBeforePause;
      this.focusBeforePause = null;
      if (back && document.activeElement === status) back.focus();
    }
    this.updateWait();
  }

  showFinishing() {
    this.finishing = true;
    this.shown = { index: null, task: null };
    if (this.conn.ready) this.showWaiting('Sending your answers…', 'This takes a moment. Please keep this page open.');
    else {
      this.showWaiting('Waiting for the connection…', `Your answers are kept ${this.storage ? 'on this device' : 'in this page'} `
        + 'and will be sent as soon as the connection is back; the page reconnects by itself. Please keep this page open.');
    }
    if (this.outbox.pendingCount() === 0 && this.conn.ready && !this.completeTimer) {
      this.completeTimer = setTimeout(() => {
        this.completeTimer = null;
        if (!this.finished) this.conn.complete();
      }, COMPLETE_NUDGE_MS);
    }
  }

  renderTask(task, index) {
    const total = this.totalTasks || Object.keys(this.ui.tasks).length;
    const restored = { ...(this.ui.answers[task.id] || {}) };
    const st = this.outbox.state();
    if (st.open === true && st.taskId === task.id && typeof st.selected === 'string'
        && (task.options || []).some((o) => o.id === st.selected)) {
      restored.selected = st.selected; // the events are the truth for the selection
    }
    this.shown = { index, task };
    this.minMetAnnounced = false;
    this.limitAnnounced = 0;
    const sentBack = Number.isInteger(this.highestIndex) && index < this.highestIndex;
    this.highestIndex = Math.max(this.highestIndex ?? index, index);

    const progress = total ? `Task ${index + 1} of ${total}` : `Task ${index + 1}`;
    $('task-progress').textContent = progress;
    $('task-progress-fill').style.width = total ? `${Math.round(((index + 1) / total) * 100)}%` : '0';
    $('task-title').textContent = task.title || '';
    $('task-description').textContent = task.description || '';
    $('task-description').hidden = !task.description;
    $('task-scenario').textContent = task.scenario || '';
    this.renderTimes(task);

    const list = $('task-options');
    list.replaceChildren();
    (task.options || []).forEach((opt, i) => list.append(this.optionElement(opt, i, restored.selected === opt.id)));

    const required = Boolean(task.reasoning_required);
    const min = required ? Number(task.reasoning_min_length) || 0 : 0;
    $('reasoning-hint').textContent = required
      ? (min > 0 ? `Required: at least ${min} characters.` : 'Required.')
      : 'Optional.';
    $('reasoning').value = restored.text || '';
    $('reasoning').required = required;
    $('next-button').textContent = total && index + 1 >= total ? 'Finish' : 'Next task';
    quiet($('save-status'));
    quiet($('next-live'));

    // The wait (if any) ends before the task starts: network_wait goes first.
    this.waitingShown = false;
    this.updateWait();
    this.tracker.showTask(task, index, restored);
    this.updateGate();
    if (sentBack) {
      // The server refused this task's completion: the person confirms it again.
      $('save-status').textContent = 'Your answer to this task could not be saved. Please check it and continue again.';
    }
    show('task', 'task-title', progress);
  }

  /** Suggested time (with the time accommodation) and the deadline of the attempt. */
  renderTimes(task) {
    const acc = this.page.accommodations || {};
    const multiplier = Number(acc.time_multiplier) > 1 ? Number(acc.time_multiplier) : 1;
    const limit = Number(task.time_limit_seconds);
    if (limit > 0 && !acc.untimed) {
      const minutes = Math.max(1, Math.round((limit * multiplier) / 60));
      $('task-time').textContent = `Suggested time: about ${minutes} ${minutes === 1 ? 'minute' : 'minutes'}.`;
      $('task-time').hidden = false;
    } else {
      $('task-time').hidden = true;
    }
    const finish = formatDate(this.page.finish_by);
    $('task-deadline').textContent = finish ? `You can finish until ${finish}.` : '';
    $('task-deadline').hidden = !finish;
  }

  /** One option: a native radio inside its label (arrow keys, Space and screen readers work as everywhere). */
  optionElement(opt, i, checked) {
    const label = document.createElement('label');
    label.className = 'option';
    const input = document.createElement('input');
    input.type = 'radio';
    input.name = 'hm-option';
    input.id = `hm-opt-${i}`;
    input.value = opt.id;
    input.checked = checked;
    const span = document.createElement('span');
    span.className = 'option-text';
    span.textContent = opt.text;
    label.append(input, span);
    label.addEventListener('mouseenter', () => this.tracker.viewOn(opt.id, 'hover'));
    label.addEventListener('mouseleave', () => this.tracker.viewOff(opt.id, 'hover'));
    input.addEventListener('focus', () => this.tracker.viewOn(opt.id, 'focus', { keyed: this.focusByKey() }));
    input.addEventListener('blur', () => this.tracker.viewOff(opt.id, 'focus'));
    input.addEventListener('change', () => {
      if (input.checked) {
        this.tracker.select(opt.id, this.inputKind());
        this.updateGate();
      }
    });
    return label;
  }

  // -------------------------------------------------------------- how the person works the page

  noteInput(kind, repeat = false) {
    this.lastInput = { kind, at: Date.now(), repeat };
  }

  /**
   * How the change now happening was made: the last keydown, pointerdown or
   * touchstart just before it. None at all (a screen reader's own click, in
   * its browse mode) counts as keyboard: such a choice settles the same way.
   */
  inputKind() {
    const { kind, at } = this.lastInput;
    return kind && Date.now() - at < INPUT_WINDOW_MS ? kind : 'keyboard';
  }

  /** Was the focus just moved by a key press (arrow, Tab), not by a held-down key's repeats? */
  focusByKey() {
    const { kind, at, repeat } = this.lastInput;
    return kind === 'keyboard' && !repeat && Date.now() - at < KEYED_FOCUS_MS;
  }

  /** Is the task ready to complete? Updates the counter, hint and button. */
  updateGate() {
    const task = this.shown.task;
    if (!task) return false;
    const text = $('reasoning').value;
    const required = Boolean(task.reasoning_required);
    const min = required ? Number(task.reasoning_min_length) || 0 : 0;
    const count = pyLen(pyStrip(text));
    const tooLong = utf8Bytes(JSON.stringify(text)) > MAX_REASONING_BYTES;
    const selected = this.tracker.selected;
    const textOk = (!required || count >= min) && !tooLong;

    this.updateCounter(text.length, count, min);

    let hint = '';
    if (tooLong) hint = 'Your explanation is too long. Please shorten it.';
    else if (!selected && required && count < min) hint = `Choose an option and write at least ${min} characters to continue.`;
    else if (!selected) hint = 'Choose an option to continue.';
    else if (required && count < min) hint = `Write at least ${min - count} more ${min - count === 1 ? 'character' : 'characters'} to continue.`;
    $('next-hint').textContent = hint;
    const ok = Boolean(selected) && textOk && !this.saving;
    // aria-disabled, never disabled: the button stays in the tab order and says why when pressed.
    if (ok) $('next-button').removeAttribute('aria-disabled');
    else $('next-button').setAttribute('aria-disabled', 'true');
    return ok;
  }

  /**
   * "n of 10,000 characters", with the minimum when there is one; said out
   * loud when the minimum is reached, near the limit and at it.
   */
  updateCounter(length, count, min) {
    const counter = $('reasoning-counter');
    let text = `${formatInt(length)} of ${formatInt(REASONING_LIMIT)} characters`;
    if (min > 0) text += count < min ? ` (at least ${min} needed)` : ' (minimum reached)';
    counter.textContent = text;
    counter.classList.toggle('met', min > 0 && count >= min);
    counter.classList.toggle('near', length >= REASONING_NEAR);
    const live = $('reasoning-live');
    if (min > 0 && count >= min && !this.minMetAnnounced) {
      this.minMetAnnounced = true;
      live.textContent = 'Minimum length reached.';
    } else if (min > 0 && count < min && this.minMetAnnounced) {
      this.minMetAnnounced = false;
      live.textContent = '';
    }
    const level = length >= REASONING_LIMIT ? 2 : (length >= REASONING_NEAR ? 1 : 0);
    if (level > this.limitAnnounced) {
      live.textContent = level === 2
        ? `You have reached the limit of ${formatInt(REASONING_LIMIT)} characters.`
        : `${formatInt(REASONING_LIMIT - length)} characters left of ${formatInt(REASONING_LIMIT)}.`;
    }
    this.limitAnnounced = level;
  }

  async onNext(event) {
    event.preventDefault();
    if (!this.shown.task || this.paused) return;
    if (this.saving) {
      announce($('next-live'), 'Please wait: your answer is being saved.');
      return;
    }
    if (!this.updateGate()) {
      // Pressed before the task is ready: say why, and do nothing else.
      announce($('next-live'), $('next-hint').textContent || 'This task is not complete yet.');
      return;
    }
    const { index, task } = this.shown;
    this.saving = true;
    $('next-button').setAttribute('aria-disabled', 'true');
    $('save-status').textContent = '';
    this.syncText();
    this.flushUi();
    const pending = this.tracker.next();
    const slow = setTimeout(() => { $('save-status').textContent = 'Saving…'; }, 400);
    const ok = await pending;
    clearTimeout(slow);
    this.saving = false;
    if (!ok) {
      // Could not complete (the server disagreed): show the task again.
      this.shown = { index: null, task: null };
      this.renderTask(task, index);
      $('save-status').textContent = 'This answer could not be saved yet. Please check it and try again.';
      return;
    }
    $('save-status').textContent = '';
    this.shown = { index: null, task: null };
    this.reconcile();
  }

  /** Make sure the tracker has the box's latest text (some IMEs skip input events). */
  syncText() {
    const value = $('reasoning').value;
    if (value !== this.tracker.text) this.tracker.reasoningInput(value);
  }

  // -------------------------------------------------------------- listeners

  listen() {
    if (this.listening) return;
    this.listening = true;
    const t = this.tracker;
    let lastMove = 0;
    window.addEventListener('pointermove', () => {
      const now = Date.now();
      if (now - lastMove < POINTER_THROTTLE_MS) return;
      lastMove = now;
      t.activity('pointer_move');
    }, { passive: true });
    // Capture phase: the kind of input is known before any change it causes.
    window.addEventListener('pointerdown', (e) => {
      this.noteInput(e.pointerType === 'touch' ? 'touch' : 'pointer');
      t.activity('click');
    }, { passive: true, capture: true });
    window.addEventListener('keydown', (e) => {
      this.noteInput('keyboard', e.repeat);
      t.activity('key');
    }, { passive: true, capture: true });
    window.addEventListener('wheel', () => t.activity('scroll'), { passive: true });
    window.addEventListener('scroll', () => t.activity('scroll'), { passive: true });
    window.addEventListener('touchstart', () => {
      this.noteInput('touch');
      t.activity('touch');
    }, { passive: true, capture: true });

    document.addEventListener('visibilitychange', () => {
      const hidden = document.visibilityState === 'hidden';
      if (hidden) this.flushUi();
      t.visibilityChange(hidden);
      if (!hidden) this.conn.nudge();
    });
    window.addEventListener('blur', (e) => { if (e.target === window) t.windowBlur(); });
    window.addEventListener('focus', (e) => { if (e.target === window) t.windowFocus(); });
    window.addEventListener('pagehide', () => {
      t.commitSelection();
      this.flushUi();
    });
    window.addEventListener('online', () => { this.conn.nudge(); });
    window.addEventListener('offline', () => { this.markOffline(); });
    window.addEventListener('storage', (e) => {
      if (e.key === this.ownerKey && e.newValue && e.newValue !== this.tabId && !this.finished && !this.stopped
          && (this.sessionReady || this.conn.intent)) {
        this.standDown();
      }
    });

    // Focus leaving the options commits a keyboard selection still settling.
    const list = $('task-options');
    list.addEventListener('focusout', (e) => {
      if (!e.relatedTarget || !list.contains(e.relatedTarget)) t.commitSelection();
    });

    const box = $('reasoning');
    box.addEventListener('input', () => {
      t.activity('typing');
      t.reasoningInput(box.value);
      this.updateGate();
    });
    box.addEventListener('blur', () => {
      // A real leave moves focus elsewhere; a window blur leaves it here, and
      // a pause for a full queue takes it away only for a moment.
      setTimeout(() => {
        if (document.activeElement !== box && !this.paused) t.reasoningLeave();
      }, 0);
    });
    $('task-form').addEventListener('submit', (e) => this.onNext(e));
    if (document.visibilityState === 'hidden') t.visibilityChange(true);
  }
}

function main() {
  const page = readPageState();
  if (!page || !page.token || !page.state) {
    // A replaced link's state names the organisation but holds no candidate data.
    NOTICE = (page && page.notice) || null;
    renderHelp();
    showMessage(page && page.state === 'replaced' ? 'replaced' : 'not_found');
    return;
  }
  const app = new App(page);
  app.boot();
}

main();
