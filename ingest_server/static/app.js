// The candidate page: screens, DOM listeners, and the wiring of the outbox
// (outbox.js), the socket (connection.js) and the capture (capture.js).
// Candidate-facing text from the server is always set with textContent.

import { Connection } from './connection.js';
import { Tracker } from './capture.js';
import { Outbox } from './outbox.js';
import { pyLen, pyStrip, utf8Bytes } from './text.js';

const MAX_REASONING_BYTES = 44 * 1024; // keeps reasoning_submitted well under a 48 KiB batch
const OFFLINE_GRACE_MS = 1200;
const COMPLETE_NUDGE_MS = 4000;
const POINTER_THROTTLE_MS = 250;

const $ = (id) => document.getElementById(id);
const debug = (...args) => { if (window.HIREMATE_DEBUG) console.debug('[hiremate]', ...args); };

// ------------------------------------------------------------------ storage

function safeStorage() {
  try {
    const s = window.localStorage;
    const probe = '__hm_probe__';
    s.setItem(probe, '1');
    s.removeItem(probe);
    return s;
  } catch {
    return null; // private mode or blocked: the page still works, in memory
  }
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

function show(name, focusId) {
  for (const s of SCREENS) $(`screen-${s}`).hidden = s !== name;
  const target = focusId ? $(focusId) : null;
  if (target) {
    try { target.focus({ preventScroll: true }); } catch { target.focus(); }
  }
  window.scrollTo(0, 0);
}

const MESSAGES = {
  not_found: ['This link is not valid',
    'Please check that you opened the whole link from your invitation. If it still does not work, ask the recruiter for a new link.'],
  completed: ['This assessment has been completed',
    'Thank you. There is nothing more to do here; you can close this page.'],
  expired: ['This link has expired',
    'The time to take this assessment has passed. If you think this is a mistake, please contact the recruiter.'],
  locked: ['This assessment is closed',
    'The recruiter has closed this assessment. If you have questions, please contact them.'],
  already_used: ['This link has already been used on another device',
    'An assessment link works on one device only. If you started on another device, please continue there. If you need help, contact the recruiter.'],
  taken_over: ['The assessment continued in another tab or on another device',
    'This page has stopped so that nothing is recorded twice. Your answers so far are kept.'],
  closed: ['This assessment is no longer open',
    'It cannot take more answers. If you think this is a mistake, please contact the recruiter.'],
  no_storage_conflict: ['Something went wrong',
    'Please reload the page. If the problem continues, contact the recruiter.'],
};

function showMessage(kind, { extra = '', action = null } = {}) {
  const [title, body] = MESSAGES[kind] || MESSAGES.no_storage_conflict;
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
  show('message', 'message-title');
}

function setNetStatus(text) {
  $('net-status').textContent = text;
}

function formatDate(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  try {
    return new Intl.DateTimeFormat(undefined, { dateStyle: 'long', timeStyle: 'short' }).format(d);
  } catch {
    return d.toLocaleString();
  }
}

// ------------------------------------------------------------------ the app

class App {
  constructor(page) {
    this.page = page;
    this.token = page.token;
    this.totalTasks = Number.isInteger(page.total_tasks) ? page.total_tasks : null;
    this.storage = safeStorage();
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
    this.saving = false;

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
    });
    const scheme = window.location.protocol === 'https:' ? 'wss:' : 'ws:';
    const path = page.ws_path || `/ws/assessment/${encodeURIComponent(this.token)}`;
    this.conn = new Connection({
      url: `${scheme}//${window.location.host}${path}`,
      outbox: this.outbox,
      WebSocketImpl: window.WebSocket,
      onEvent: (kind, data) => this.onSocket(kind, data),
      probeState: () => this.probeState(),
      log: debug,
    });
    this.outbox.onChange(() => this.onOutboxChange());
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
    if (['not_found', 'completed', 'expired', 'locked'].includes(state)) {
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

  showWelcome(continuing) {
    const p = this.page;
    $('welcome-name').textContent = p.candidate_name ? `, ${p.candidate_name}` : '';
    $('welcome-position').textContent = p.position ? `This assessment is for the position of ${p.position}.` : '';
    $('welcome-position').hidden = !p.position;
    const n = this.totalTasks;
    $('welcome-tasks').textContent = n ? `It has ${n} short ${n === 1 ? 'task' : 'tasks'}, shown one at a time.` : '';
    $('welcome-tasks').hidden = !n;
    const until = formatDate(p.expires_at);
    $('welcome-expiry').textContent = until
      ? `This link works on one device and until ${until}.`
      : 'This link works on one device.';
    $('welcome-continue').hidden = !continuing;
    $('start-button').textContent = continuing ? 'Continue' : 'Start the assessment';
    $('start-button').disabled = false;
    $('welcome-status').textContent = '';
    $('start-button').onclick = () => this.onStart();
    show('welcome', 'welcome-title');
  }

  onStart() {
    $('start-button').disabled = true;
    $('welcome-status').textContent = 'Starting…';
    this.claimOwnership();
    this.conn.start();
  }

  claimOwnership() {
    if (this.storage) {
      try { this.storage.setItem(this.ownerKey, this.tabId); } catch { /* ignore */ }
    }
  }

  claimAndResume() {
    show('waiting');
    $('waiting-title').textContent = 'Reconnecting to your assessment…';
    $('waiting-body').textContent = '';
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
            showMessage(['expired', 'locked', 'not_found'].includes(state) ? state : 'closed');
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
        break;
      case 'online':
        this.clearOffline();
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
  async probeState() {
    try {
      const res = await fetch(window.location.pathname, { cache: 'no-store', credentials: 'same-origin' });
      const html = await res.text();
      const doc = new DOMParser().parseFromString(html, 'text/html');
      const el = doc.getElementById('hm-state');
      return el ? JSON.parse(el.textContent).state : null;
    } catch {
      return null;
    }
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
    this.forgetLocal();
    this.clearOffline();
    show('done', 'done-title');
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
    this.showWaiting(index === 0 ? 'Loading the first task…' : 'Loading the next task…', this.conn.ready ? ''
      : 'Waiting for the connection. Your answers so far are saved on this device.');
    // Ask only once the server has stored the previous task's completion.
    const confirmed = this.outbox.confirmed();
    if (this.conn.ready && confirmed.index >= index && this.requestedIndex !== index) {
      this.requestedIndex = index;
      this.conn.getTask(index);
    }
  }

  showWaiting(title, body) {
    const wasHidden = $('screen-waiting').hidden;
    $('waiting-title').textContent = title;
    $('waiting-body').textContent = body;
    if (wasHidden) show('waiting', 'waiting-title');
  }

  showFinishing() {
    this.finishing = true;
    this.shown = { index: null, task: null };
    this.showWaiting('Sending your answers…', this.conn.ready
      ? 'This takes a moment. Please keep this page open.'
      : 'Your answers are saved on this device and will be sent as soon as the connection is back. Please keep this page open.');
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
    const sentBack = Number.isInteger(this.highestIndex) && index < this.highestIndex;
    this.highestIndex = Math.max(this.highestIndex ?? index, index);

    $('task-progress').textContent = total ? `Task ${index + 1} of ${total}` : `Task ${index + 1}`;
    $('task-progress-fill').style.width = total ? `${Math.round(((index + 1) / total) * 100)}%` : '0';
    $('task-title').textContent = task.title || '';
    $('task-description').textContent = task.description || '';
    $('task-description').hidden = !task.description;
    $('task-scenario').textContent = task.scenario || '';
    const limit = Number(task.time_limit_seconds);
    if (limit > 0) {
      const minutes = Math.max(1, Math.round(limit / 60));
      $('task-time').textContent = `Suggested time: about ${minutes} ${minutes === 1 ? 'minute' : 'minutes'}.`;
      $('task-time').hidden = false;
    } else {
      $('task-time').hidden = true;
    }

    const list = $('task-options');
    list.replaceChildren();
    (task.options || []).forEach((opt, i) => {
      const label = document.createElement('label');
      label.className = 'option';
      const input = document.createElement('input');
      input.type = 'radio';
      input.name = 'hm-option';
      input.id = `hm-opt-${i}`;
      input.value = opt.id;
      input.checked = restored.selected === opt.id;
      const span = document.createElement('span');
      span.className = 'option-text';
      span.textContent = opt.text;
      label.append(input, span);
      label.addEventListener('mouseenter', () => this.tracker.viewOn(opt.id, 'hover'));
      label.addEventListener('mouseleave', () => this.tracker.viewOff(opt.id, 'hover'));
      input.addEventListener('focus', () => this.tracker.viewOn(opt.id, 'focus'));
      input.addEventListener('blur', () => this.tracker.viewOff(opt.id, 'focus'));
      input.addEventListener('change', () => {
        if (input.checked) {
          this.tracker.select(opt.id);
          this.updateGate();
        }
      });
      list.append(label);
    });

    const required = Boolean(task.reasoning_required);
    const min = required ? Number(task.reasoning_min_length) || 0 : 0;
    $('reasoning-hint').textContent = required
      ? (min > 0 ? `Required: at least ${min} characters.` : 'Required.')
      : 'Optional.';
    $('reasoning').value = restored.text || '';
    $('reasoning').required = required;
    $('next-button').textContent = total && index + 1 >= total ? 'Finish' : 'Next task';

    this.tracker.showTask(task, index, restored);
    this.updateGate();
    if (sentBack) {
      // The server refused this task's completion: the person confirms it again.
      $('next-hint').textContent = 'Your answer to this task could not be saved. Please check it and continue again.';
    }
    show('task', 'task-title');
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

    const counter = $('reasoning-counter');
    const unit = count === 1 ? 'character' : 'characters';
    if (min > 0 && count < min) counter.textContent = `${count} / ${min} characters`;
    else if (min > 0) counter.textContent = `${count} ${unit} (minimum ${min} reached)`;
    else counter.textContent = `${count} ${unit}`;
    counter.classList.toggle('met', min > 0 && count >= min);
    if (min > 0 && count >= min && !this.minMetAnnounced) {
      this.minMetAnnounced = true;
      $('reasoning-live').textContent = 'Minimum length reached.';
    } else if (min > 0 && count < min && this.minMetAnnounced) {
      this.minMetAnnounced = false;
      $('reasoning-live').textContent = '';
    }

    let hint = '';
    if (tooLong) hint = 'Your explanation is too long. Please shorten it.';
    else if (!selected && required && count < min) hint = `Choose an option and write at least ${min} characters to continue.`;
    else if (!selected) hint = 'Choose an option to continue.';
    else if (required && count < min) hint = `Write at least ${min - count} more ${min - count === 1 ? 'character' : 'characters'} to continue.`;
    $('next-hint').textContent = hint;
    const ok = Boolean(selected) && textOk && !this.saving;
    $('next-button').disabled = !ok;
    return ok;
  }

  async onNext(event) {
    event.preventDefault();
    if (!this.shown.task || this.saving || !this.updateGate()) return;
    const { index, task } = this.shown;
    this.saving = true;
    $('next-button').disabled = true;
    this.syncText();
    this.flushUi();
    const pending = this.tracker.next();
    const slow = setTimeout(() => { $('next-hint').textContent = 'Saving…'; }, 400);
    const ok = await pending;
    clearTimeout(slow);
    this.saving = false;
    if (!ok) {
      // Could not complete (the server disagreed): show the task again.
      this.shown = { index: null, task: null };
      this.renderTask(task, index);
      $('next-hint').textContent = 'This answer could not be saved yet. Please check it and try again.';
      return;
    }
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
    window.addEventListener('pointerdown', () => t.activity('click'), { passive: true });
    window.addEventListener('keydown', () => t.activity('key'), { passive: true });
    window.addEventListener('wheel', () => t.activity('scroll'), { passive: true });
    window.addEventListener('scroll', () => t.activity('scroll'), { passive: true });
    window.addEventListener('touchstart', () => t.activity('touch'), { passive: true });

    document.addEventListener('visibilitychange', () => {
      const hidden = document.visibilityState === 'hidden';
      if (hidden) this.flushUi();
      t.visibilityChange(hidden);
      if (!hidden) this.conn.nudge();
    });
    window.addEventListener('blur', (e) => { if (e.target === window) t.windowBlur(); });
    window.addEventListener('focus', (e) => { if (e.target === window) t.windowFocus(); });
    window.addEventListener('pagehide', () => this.flushUi());
    window.addEventListener('online', () => { this.conn.nudge(); });
    window.addEventListener('offline', () => { this.markOffline(); });
    window.addEventListener('storage', (e) => {
      if (e.key === this.ownerKey && e.newValue && e.newValue !== this.tabId && !this.finished && !this.stopped
          && (this.sessionReady || this.conn.intent)) {
        this.standDown();
      }
    });

    const box = $('reasoning');
    box.addEventListener('input', () => {
      t.activity('typing');
      t.reasoningInput(box.value);
      this.updateGate();
    });
    box.addEventListener('blur', () => {
      // A real leave moves focus elsewhere; a window blur leaves it here.
      setTimeout(() => {
        if (document.activeElement !== box) t.reasoningLeave();
      }, 0);
    });
    $('task-form').addEventListener('submit', (e) => this.onNext(e));
    if (document.visibilityState === 'hidden') t.visibilityChange(true);
  }
}

function main() {
  const page = readPageState();
  if (!page || !page.token || !page.state) {
    showMessage('not_found');
    return;
  }
  const app = new App(page);
  app.boot();
}

main();
