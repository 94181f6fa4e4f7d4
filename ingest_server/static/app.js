// The candidate page: the welcome screen (notice, consent, accommodation
// request, Start), the page's listeners, and loading the running assessment
// (session.js: the outbox, the socket, the capture and the task screens),
// which the welcome screen does not wait for. Shared helpers are in ui.js.
// Candidate-facing text from the server is always set with textContent.

import {
  $, announce, contactPhrase, debug, formatDate, formatInt, orgName, quiet, readJson, readPageState, renderHelp,
  retentionWords, safeStorage, setNetStatus, setNotice, show, showMessage, socketUrl, tokenTag, writeJson,
} from './ui.js';

const NOTE_LIMIT = 2000; // the accommodation request's note
const OFFLINE_GRACE_MS = 1200;
const POINTER_THROTTLE_MS = 250;
// How long a keydown/pointerdown/touchstart tells how the next change was made.
const INPUT_WINDOW_MS = 1000;
// A focus this soon after a (non-repeat) key press was moved by the keyboard.
const KEYED_FOCUS_MS = 500;

/**
 * The tracker until session.js (with capture.js) is here: the page's
 * listeners are on from the start, and what they tell it is kept, in order,
 * and told to the Tracker then (Session.attach). Nothing is observed before
 * the assessment starts, so this keeps the tracker's idea of focus and
 * visibility exactly what it would have been.
 */
function trackerStandIn() {
  const calls = [];
  const keep = (name) => (...args) => { calls.push([name, args]); };
  return {
    calls,
    activity: keep('activity'),
    visibilityChange: keep('visibilityChange'),
    windowBlur: keep('windowBlur'),
    windowFocus: keep('windowFocus'),
    commitSelection: keep('commitSelection'),
    reasoningInput: keep('reasoningInput'),
    reasoningLeave: keep('reasoningLeave'),
  };
}

/**
 * Ask for session.js and every module it imports at once (the server lists
 * them, versioned, in #hm-later), so they arrive in one round instead of one
 * per level of imports; the import() that follows uses what these fetch.
 */
function preloadLater() {
  let urls = [];
  try {
    urls = JSON.parse(document.getElementById('hm-later').textContent);
  } catch {
    return; // no list (an unversioned page): import() finds the modules level by level
  }
  for (const url of urls) {
    const link = document.createElement('link');
    link.rel = 'modulepreload';
    link.href = url;
    document.head.append(link);
  }
}

/** `fn` once the frame now being prepared is drawn (or soon, in a page drawing no frames: a background tab). */
function afterPaint(fn) {
  let done = false;
  const once = () => {
    if (done) return;
    done = true;
    fn();
  };
  requestAnimationFrame(() => setTimeout(once, 0));
  setTimeout(once, 500);
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

    this.wsUrl = socketUrl(page.ws_path || `/ws/assessment/${encodeURIComponent(this.token)}`);
    // session.js brings these (see load); until then the listeners talk to a stand-in.
    this.outbox = null;
    this.conn = null;
    this.tracker = trackerStandIn();
    this.loading = null; // the import of session.js, once asked for
    this.loaded = false;
    this.bootStep = null; // what boot left for when session.js is here
    setNotice(page.notice || null);
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

  // -------------------------------------------------------------- the running assessment's code

  /**
   * Import session.js (the outbox, the socket, the capture and the task
   * screens), once: its methods become the App's (Session.attach then makes
   * the outbox, the tracker and the socket), and what boot left for it runs.
   * A failed import is not asked for again (a module that failed to load
   * stays failed for this document): Start then says to reload.
   */
  load() {
    if (!this.loading) {
      preloadLater();
      this.loading = import('./session.js').then(({ Session }) => {
        for (const name of Object.getOwnPropertyNames(Session.prototype)) {
          if (name !== 'constructor') {
            Object.defineProperty(App.prototype, name, Object.getOwnPropertyDescriptor(Session.prototype, name));
          }
        }
        this.attach();
        this.loaded = true;
        const step = this.bootStep;
        this.bootStep = null;
        if (step) step();
      });
    }
    return this.loading;
  }

  /** `fn` now if session.js is here, else once it is. */
  withSession(fn) {
    if (this.loaded) {
      fn();
      return Promise.resolve();
    }
    return this.load().then(fn);
  }

  // -------------------------------------------------------------- boot

  boot() {
    const state = this.page.state;
    renderHelp();
    this.renderStorageNote();
    if (['not_found', 'completed', 'expired', 'locked', 'replaced'].includes(state)) {
      showMessage(state);
      this.bootStep = () => this.forgetLocal();
      this.load().catch(debug);
      return;
    }
    this.listen();
    if (state === 'in_progress') {
      // Resume, or the welcome with Continue: the outbox knows whether this device holds the session.
      this.bootStep = () => {
        if (this.outbox.load()) this.claimAndResume();
        else this.showWelcome(true);
      };
      this.load().catch(debug); // the loading screen stays, as when any module fails
      return;
    }
    // The welcome first; the rest of the page's code right after it is drawn, not competing with it.
    this.showWelcome(false);
    this.bootStep = () => {
      if (this.outbox.load() && state === 'pending') this.forgetLocal(); // a key the server never honoured
    };
    afterPaint(() => this.load().catch(debug)); // Start says so if it failed
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
    // session.js is normally here long before Start is pressed; if not, Start waits for it ("Starting…").
    this.withSession(() => {
      if (this.stopped) return; // another tab took over meanwhile
      const version = this.page.notice && this.page.notice.version;
      this.consentSent = version || null;
      this.conn.start(version ? { notice_version: version } : null);
    }).catch(() => {
      this.starting = false;
      $('start-button').removeAttribute('aria-disabled');
      announce($('welcome-status'), 'This page could not finish loading. Please check your connection and reload the page.');
    });
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
    let connection = null;
    try {
      connection = await import('./connection.js'); // here already once session.js is
    } catch { /* did not load: said as a failed connection */ }
    const result = connection
      ? await connection.requestAccommodation({ url: this.wsUrl, ...body, WebSocketImpl: window.WebSocket })
      : { ok: false, reason: 'unreachable' };
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

  markOffline() {
    if (this.offlineTimer || this.finished) return;
    this.offlineTimer = setTimeout(() => {
      this.offlineTimer = null;
      const conn = this.conn; // none yet: not connected, not stopped
      if (!(conn && conn.ready) && !this.finished && !(conn && conn.stopped)) {
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

  // -------------------------------------------------------------- listeners

  listen() {
    if (this.listening) return;
    this.listening = true;
    const t = () => this.tracker; // the stand-in until session.js is here
    let lastMove = 0;
    window.addEventListener('pointermove', () => {
      const now = Date.now();
      if (now - lastMove < POINTER_THROTTLE_MS) return;
      lastMove = now;
      t().activity('pointer_move');
    }, { passive: true });
    // Capture phase: the kind of input is known before any change it causes.
    window.addEventListener('pointerdown', (e) => {
      this.noteInput(e.pointerType === 'touch' ? 'touch' : 'pointer');
      t().activity('click');
    }, { passive: true, capture: true });
    window.addEventListener('keydown', (e) => {
      this.noteInput('keyboard', e.repeat);
      t().activity('key');
    }, { passive: true, capture: true });
    window.addEventListener('wheel', () => t().activity('scroll'), { passive: true });
    window.addEventListener('scroll', () => t().activity('scroll'), { passive: true });
    window.addEventListener('touchstart', () => {
      this.noteInput('touch');
      t().activity('touch');
    }, { passive: true, capture: true });

    document.addEventListener('visibilitychange', () => {
      const hidden = document.visibilityState === 'hidden';
      if (hidden) this.flushUi();
      t().visibilityChange(hidden);
      if (!hidden && this.conn) this.conn.nudge();
    });
    window.addEventListener('blur', (e) => { if (e.target === window) t().windowBlur(); });
    window.addEventListener('focus', (e) => { if (e.target === window) t().windowFocus(); });
    window.addEventListener('pagehide', () => {
      t().commitSelection();
      this.flushUi();
    });
    window.addEventListener('online', () => { if (this.conn) this.conn.nudge(); });
    window.addEventListener('offline', () => { this.markOffline(); });
    window.addEventListener('storage', (e) => {
      if (e.key === this.ownerKey && e.newValue && e.newValue !== this.tabId && !this.finished && !this.stopped
          && (this.sessionReady || (this.conn ? this.conn.intent : this.starting))) {
        this.stopped = true; // Start, if it still waits for session.js, stops there
        this.withSession(() => this.standDown());
      }
    });

    // Focus leaving the options commits a keyboard selection still settling.
    const list = $('task-options');
    list.addEventListener('focusout', (e) => {
      if (!e.relatedTarget || !list.contains(e.relatedTarget)) t().commitSelection();
    });

    const box = $('reasoning');
    box.addEventListener('input', () => {
      t().activity('typing');
      t().reasoningInput(box.value);
      this.updateGate();
    });
    box.addEventListener('blur', () => {
      // A real leave moves focus elsewhere; a window blur leaves it here, and
      // a pause for a full queue takes it away only for a moment.
      setTimeout(() => {
        if (document.activeElement !== box && !this.paused) t().reasoningLeave();
      }, 0);
    });
    $('task-form').addEventListener('submit', (e) => this.onNext(e));
    if (document.visibilityState === 'hidden') t().visibilityChange(true);
  }
}

function main() {
  const page = readPageState();
  if (!page || !page.token || !page.state) {
    // A replaced link's state names the organisation but holds no candidate data.
    setNotice((page && page.notice) || null);
    renderHelp();
    showMessage(page && page.state === 'replaced' ? 'replaced' : 'not_found');
    return;
  }
  const app = new App(page);
  app.boot();
}

main();

