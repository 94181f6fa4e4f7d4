// The running assessment: the outbox (outbox.js), the socket (connection.js)
// and the capture (capture.js), and the screens that need them (tasks,
// waiting, done, the optional self-identification). app.js shows the welcome
// screen without waiting for this module, imports it as soon as that screen
// is drawn, and makes the methods of Session its App's own (`this` is the
// App): see App.load in app.js.
// Candidate-facing text from the server is always set with textContent.

import { Connection, sendSelfIdentification } from './connection.js';
import { Tracker } from './capture.js';
import { Outbox } from './outbox.js';
import { pyLen, pyStrip, utf8Bytes } from './text.js';
import {
  $, announce, currentNotice, debug, formatDate, formatInt, MESSAGES, orgName, quiet, readJson, renderHelp, setNotice,
  setTitle, show, showMessage, socketUrl,
} from './ui.js';

const MAX_REASONING_BYTES = 44 * 1024; // keeps reasoning_submitted well under a 48 KiB batch
const REASONING_LIMIT = 10000; // the box's maxlength (UTF-16 units, as the browser counts them)
const REASONING_NEAR = 9000; // from here the counter is announced
const COMPLETE_NUDGE_MS = 4000;
const PREFER_NOT_TO_SAY = 'prefer_not_to_say';

export class Session {
  /**
   * The outbox, the tracker and the socket, once this module is here. What
   * the page's listeners told the tracker's stand-in meanwhile (see
   * trackerStandIn in app.js) is told to the tracker now, in order: nothing
   * is observed before the tracker begins, so only its idea of focus and
   * visibility carries over.
   */
  attach() {
    const app = this;
    const ctx = { // what the rules need to know about tasks (see rules.js)
      indexOf: (taskId) => app.indexOfTask(taskId),
      task: (taskId) => app.taskById(taskId),
      get totalTasks() { return app.totalTasks; },
    };
    this.outbox = new Outbox({ storage: this.storage, ns: this.ns, ctx, log: debug });
    const early = this.tracker;
    this.tracker = new Tracker({
      outbox: this.outbox,
      taskIdAt: (index) => (this.ui.tasks[index] ? this.ui.tasks[index].id : undefined),
      onAnswerChange: (answer) => this.saveAnswer(answer),
      onFocusChange: (trigger) => {
        this.ui.focusLost = trigger;
        this.flushUi();
      },
      log: debug,
      assistive: Boolean(this.page.accommodations && this.page.accommodations.assistive_technology),
    });
    for (const [name, args] of early.calls) this.tracker[name](...args);
    this.conn = new Connection({
      url: this.wsUrl,
      outbox: this.outbox,
      WebSocketImpl: window.WebSocket,
      onEvent: (kind, data) => this.onSocket(kind, data),
      probeState: () => this.probeState(),
      log: debug,
    });
    this.outbox.onChange(() => this.onOutboxChange());
    this.outbox.onFullChange((full) => this.setPaused(full));
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

  /** Take what the server says now (assessment_info or the page state again). */
  absorb(src) {
    if (!src || typeof src !== 'object') return;
    for (const key of ['notice', 'accommodations', 'finish_by', 'grace_hours', 'accommodation_request', 'expires_at',
      'self_identification']) {
      if (key in src) this.page[key] = src[key];
    }
    setNotice(this.page.notice || currentNotice());
    this.tracker.assistive = Boolean(this.page.accommodations && this.page.accommodations.assistive_technology);
    renderHelp();
    if (!$('screen-welcome').hidden) this.renderWelcome();
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
    if (page && page.notice) setNotice(page.notice); // a replaced link's message names the contact
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
}
