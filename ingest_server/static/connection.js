// The candidate socket: handshake (start or resume), reconnection with
// exponential back-off and jitter, close codes, and the requests that are
// not events (get_task, complete). Events go through the outbox.
//
// Everything the browser provides is injected, so node can test it.

export const CLOSE_TAKEN_OVER = 4409;
export const CLOSE_ALREADY_USED = 4403;
export const CLOSE_TRY_LATER = 1013;
export const CLOSE_TOO_BIG = 1009;
const CLIENT_RESTART = 4000; // our own close when an answer is overdue
// get_task and complete are answered at once by a live server; a page left
// behind "Loading the next task…" by a silently dead socket must notice in
// seconds, not after the 30 s allowed for events (issue 15: it took 36 s).
export const REQUEST_TIMEOUT_MS = 9000;
const WATCH_EVERY_MS = 2000;

export function backoffDelay(attempt, { base = 500, cap = 30000, random = Math.random } = {}) {
  const ceiling = Math.min(cap, base * 2 ** Math.min(attempt, 16));
  return Math.round(ceiling / 2 + random() * (ceiling / 2)); // "equal jitter"
}

export class Connection {
  /**
   * @param {object} o
   * @param {string} o.url                 ws(s)://host/ws/assessment/<token>
   * @param {import('./outbox.js').Outbox} o.outbox
   * @param {Function} o.WebSocketImpl
   * @param {(kind: string, data?: any) => void} o.onEvent
   * @param {() => Promise<string|null>} [o.probeState]  the link's state from GET /a/<token>
   */
  constructor({
    url, outbox, WebSocketImpl, onEvent, probeState = async () => null,
    now = () => Date.now(), setTimer = (fn, ms) => setTimeout(fn, ms), clearTimer = (t) => clearTimeout(t),
    random = Math.random, answerTimeoutMs = 30000, handshakeTimeoutMs = 20000,
    requestTimeoutMs = REQUEST_TIMEOUT_MS, log = () => {},
  }) {
    this.url = url;
    this.outbox = outbox;
    this.WebSocketImpl = WebSocketImpl;
    this.onEvent = onEvent;
    this.probeState = probeState;
    this.now = now;
    this.setTimer = setTimer;
    this.clearTimer = clearTimer;
    this.random = random;
    this.answerTimeoutMs = answerTimeoutMs;
    this.handshakeTimeoutMs = handshakeTimeoutMs;
    this.requestTimeoutMs = requestTimeoutMs;
    this.log = log;

    this.ws = null;
    this.intent = null; // 'start' | 'resume' | null (nothing to do: not started, or consent refused)
    this.consent = null; // {notice_version}: the acknowledgement `start` carries
    this.infoSeen = false; // assessment_info received on the current socket
    this.requestAt = 0; // when the unanswered get_task/complete was sent (0: none)
    this.ready = false; // started/resumed on the current socket
    this.stopped = false;
    this.completedSeen = false;
    this.failures = 0; // consecutive connections that never got ready
    this.retries = 0; // consecutive closes (drives the back-off)
    this.readyAt = 0;
    this.retryTimer = null;
    this.watchTimer = null;
    this.wantedTask = null;
    this.wantComplete = false;
    this.openedAt = 0;
    this.online = null;
  }

  setOnline(value) {
    if (this.online === value) return;
    this.online = value;
    this.onEvent(value ? 'online' : 'offline');
  }

  /**
   * Start the attempt (the welcome screen's button), with the notice the
   * candidate acknowledged: {notice_version}. After a consent_required the
   * socket is still open, so the start is sent on it at once.
   */
  start(consent = this.consent) {
    this.consent = consent;
    this.intent = 'start';
    if (this.ws && this.infoSeen && !this.ready) {
      this.sendStart();
      return;
    }
    this.connect();
  }

  sendStart() {
    this.sendJson(this.consent ? { type: 'start', consent: this.consent } : { type: 'start' });
  }

  /** Continue with the session key the outbox holds. */
  resume() {
    this.intent = 'resume';
    this.connect();
  }

  connect() {
    if (this.stopped) return;
    if (this.retryTimer) {
      this.clearTimer(this.retryTimer);
      this.retryTimer = null;
    }
    if (this.ws) return;
    let ws;
    try {
      ws = new this.WebSocketImpl(this.url);
    } catch (err) {
      this.log('socket: cannot open', err);
      this.scheduleReconnect();
      return;
    }
    this.ws = ws;
    this.ready = false;
    this.infoSeen = false;
    this.openedAt = this.now();
    ws.onmessage = (e) => { if (this.ws === ws) this.handleFrame(e.data); };
    ws.onclose = (e) => { if (this.ws === ws) this.handleClose(e.code, e.reason); };
    ws.onerror = () => { /* a close follows */ };
    this.startWatch();
  }

  /** Reconnect now if waiting (the browser says it is back online). */
  nudge() {
    if (this.stopped || this.ws || !this.intent) return;
    this.connect();
  }

  stop() {
    this.stopped = true;
    if (this.retryTimer) this.clearTimer(this.retryTimer);
    if (this.watchTimer) this.clearTimer(this.watchTimer);
    this.retryTimer = null;
    this.watchTimer = null;
    this.outbox.detach();
    const ws = this.ws;
    this.ws = null;
    if (ws) {
      try { ws.close(1000); } catch { /* ignore */ }
    }
  }

  sendJson(obj) {
    if (!this.ws || this.ws.readyState !== 1) return false;
    try {
      this.ws.send(JSON.stringify(obj));
      return true;
    } catch (err) {
      this.log('socket: send failed', err);
      return false;
    }
  }

  getTask(index) {
    this.wantedTask = index;
    if (this.ready && this.sendJson({ type: 'get_task', index })) this.requestAt = this.now();
  }

  complete() {
    this.wantComplete = true;
    if (this.ready && this.sendJson({ type: 'complete' })) this.requestAt = this.now();
  }

  /** A get_task or complete was answered (whatever the answer). */
  answered() { this.requestAt = 0; }

  startWatch() {
    if (this.watchTimer) this.clearTimer(this.watchTimer);
    this.watchTimer = this.setTimer(() => {
      this.watchTimer = null;
      if (!this.ws || this.stopped) return;
      let overdue;
      if (this.ready) {
        overdue = this.outbox.inflightAge() > this.answerTimeoutMs
          || (this.requestAt > 0 && this.now() - this.requestAt > this.requestTimeoutMs);
      } else {
        // Waiting for the candidate to acknowledge the notice is not a stall.
        overdue = this.intent !== null && this.now() - this.openedAt > this.handshakeTimeoutMs;
      }
      if (overdue) {
        this.log('socket: answer overdue, reconnecting');
        const ws = this.ws;
        this.handleClose(CLIENT_RESTART, 'overdue');
        try { ws.close(CLIENT_RESTART); } catch { /* ignore */ }
        return;
      }
      this.startWatch();
    }, WATCH_EVERY_MS);
  }

  handleFrame(data) {
    let msg;
    try {
      msg = JSON.parse(data);
    } catch {
      this.log('socket: not JSON', data);
      return;
    }
    if (!msg || typeof msg !== 'object') return;
    switch (msg.type) {
      case 'assessment_info':
        this.infoSeen = true;
        this.onEvent('info', msg);
        if (this.intent === 'resume' && this.outbox.sessionKey) {
          if (msg.status === 'pending') {
            // A key from a session the server never started: forget it.
            this.onEvent('stale_session', msg);
            return;
          }
          this.sendJson({ type: 'resume', session_key: this.outbox.sessionKey });
        } else if (this.intent === 'start' || this.intent === 'resume') {
          this.sendStart();
        }
        return;
      case 'started': {
        const st = msg.attempt_status || {};
        this.outbox.onStarted({
          sessionKey: msg.session_key,
          resumedFrom: Number.isInteger(msg.resumed_from) ? msg.resumed_from : null,
          currentTaskIndex: Number.isInteger(msg.current_task_index) ? msg.current_task_index
            : (Number.isInteger(st.current_task_index) ? st.current_task_index : 0),
          totalTasks: Number.isInteger(st.total_tasks) ? st.total_tasks : null,
        });
        this.intent = 'resume';
        this.becomeReady('started', msg);
        return;
      }
      case 'resumed': {
        const st = msg.attempt_status || {};
        this.outbox.onResumed({
          lastSequenceNumber: msg.last_sequence_number,
          currentTaskIndex: Number.isInteger(msg.current_task_index) ? msg.current_task_index : st.current_task_index,
          totalTasks: Number.isInteger(st.total_tasks) ? st.total_tasks : null,
        });
        this.becomeReady('resumed', msg);
        return;
      }
      case 'ack':
        this.outbox.handleMessage(msg);
        return;
      case 'error':
        if (this.outbox.handleMessage(msg)) {
          if (this.outbox.closedCode) this.onEvent('attempt_closed', msg);
          return;
        }
        if (msg.code === 'consent_required') {
          // The socket stays open: the page asks again and start() resends.
          this.intent = null;
          this.consent = null;
          this.onEvent('consent_required', msg);
        } else if (msg.code === 'token_already_used') {
          this.stopped = true; // the 4403 close follows
          this.onEvent('already_used', msg);
        } else if (msg.code === 'task_not_available') {
          this.answered();
          this.onEvent('task_not_available', msg);
        } else if (msg.code === 'not_started') {
          this.restart();
        } else if (msg.code === 'attempt_closed') {
          this.stopped = true; // expired or locked meanwhile (an error without a seq)
          this.onEvent('attempt_closed', msg);
        } else if (msg.code === 'incomplete') {
          this.answered();
          this.wantComplete = false;
        } else {
          this.log('socket: error', msg);
        }
        return;
      case 'task':
        this.answered();
        if (this.wantedTask === msg.index) this.wantedTask = null;
        this.onEvent('task', msg);
        return;
      case 'attempt_status':
        this.onEvent('status', msg);
        return;
      case 'assessment_completed':
        this.answered();
        this.completedSeen = true;
        this.wantComplete = false;
        this.onEvent('completed', msg);
        return;
      default:
        this.log('socket: unknown message', msg.type);
    }
  }

  becomeReady(kind, msg) {
    this.ready = true;
    this.readyAt = this.now();
    this.failures = 0;
    this.setOnline(true);
    this.onEvent(kind, msg);
    this.outbox.attach((text) => {
      if (!this.ws || this.ws.readyState !== 1) throw new Error('not open');
      this.ws.send(text);
    });
    if (this.wantedTask !== null) this.getTask(this.wantedTask);
    if (this.wantComplete) this.complete();
  }

  restart() {
    const ws = this.ws;
    this.handleClose(CLIENT_RESTART, 'restart');
    if (ws) {
      try { ws.close(CLIENT_RESTART); } catch { /* ignore */ }
    }
  }

  handleClose(code, reason) {
    const wasReady = this.ready;
    this.ws = null;
    this.ready = false;
    this.infoSeen = false;
    this.requestAt = 0;
    this.outbox.detach();
    if (this.watchTimer) {
      this.clearTimer(this.watchTimer);
      this.watchTimer = null;
    }
    if (this.stopped && code !== CLOSE_ALREADY_USED && code !== CLOSE_TAKEN_OVER) return;
    if (code === 1000 && this.completedSeen) {
      this.stopped = true;
      this.onEvent('done');
      return;
    }
    if (code === CLOSE_TAKEN_OVER) {
      this.stopped = true;
      this.onEvent('taken_over', { code, reason });
      return;
    }
    if (code === CLOSE_ALREADY_USED) {
      this.stopped = true;
      this.onEvent('already_used', { code, reason });
      return;
    }
    if (this.intent === null) return; // nothing to resume yet: start() opens a new socket
    if (code === CLOSE_TOO_BIG) {
      this.outbox.batchMaxBytes = Math.max(4096, Math.floor(this.outbox.batchMaxBytes / 2));
      this.outbox.batchMaxEvents = Math.max(1, Math.floor(this.outbox.batchMaxEvents / 2));
    }
    if (!wasReady) this.failures += 1;
    if (wasReady && this.now() - this.readyAt > 10000) this.retries = 0;
    else this.retries += 1;
    this.setOnline(false);
    if (!wasReady && this.failures >= 2 && this.failures % 2 === 0) {
      // The upgrade may have been refused (404/410/429 look alike to a
      // browser): ask the page URL what state the link is in.
      this.probeState().then((state) => {
        if (this.stopped) return;
        if (state && state !== 'in_progress' && state !== 'pending') {
          this.stopped = true;
          this.onEvent('terminal', { state });
          return;
        }
        this.scheduleReconnect(code);
      }, () => this.scheduleReconnect(code));
      return;
    }
    this.scheduleReconnect(code);
  }

  scheduleReconnect(code = 1006) {
    if (this.stopped || this.retryTimer) return;
    const base = code === CLOSE_TRY_LATER ? 5000 : 500;
    const delay = backoffDelay(Math.max(0, this.retries - 1), { base, random: this.random });
    this.onEvent('reconnecting', { delay, code });
    this.retryTimer = this.setTimer(() => {
      this.retryTimer = null;
      this.connect();
    }, delay);
  }
}

/**
 * One request on a socket of its own, then close: wait for the message
 * `waitFor` (or for the socket to open when it is null), send `message`,
 * and settle on the answer `answer` or an error. (A socket, not an HTTP
 * POST: the ingest port takes no request bodies.)
 *
 * Resolves with {ok: true, msg} or {ok: false, reason}, where reason is
 * 'invalid' (the server refused the message as it is), 'closed' (the
 * assessment is closed), 'refused' (the handshake was refused: the link is
 * not valid, or too many connections) or 'network' (no answer).
 */
function oneShot({
  url, message, waitFor, answer, WebSocketImpl, timeoutMs = 15000,
  setTimer = (fn, ms) => setTimeout(fn, ms), clearTimer = (t) => clearTimeout(t),
}) {
  return new Promise((resolve) => {
    let ws;
    let settled = false;
    let opened = false;
    const finish = (result) => {
      if (settled) return;
      settled = true;
      clearTimer(timer);
      try { ws.close(1000); } catch { /* already closed */ }
      resolve(result);
    };
    const timer = setTimer(() => finish({ ok: false, reason: 'network' }), timeoutMs);
    try {
      ws = new WebSocketImpl(url);
    } catch {
      finish({ ok: false, reason: 'network' });
      return;
    }
    const send = () => { opened = true; ws.send(JSON.stringify(message)); };
    ws.onopen = () => {
      opened = true;
      if (!waitFor) send();
    };
    ws.onerror = () => {};
    ws.onclose = () => finish({ ok: false, reason: opened ? 'network' : 'refused' });
    ws.onmessage = (frame) => {
      let msg;
      try { msg = JSON.parse(frame.data); } catch { return; }
      if (!msg || typeof msg !== 'object') return;
      if (waitFor && msg.type === waitFor) send();
      else if (msg.type === answer) finish({ ok: true, msg });
      else if (msg.type === 'error') finish({ ok: false, reason: msg.code === 'attempt_closed' ? 'closed' : 'invalid' });
    };
  });
}

/**
 * Send one accommodation request (docs/protocol.md, `request_accommodation`)
 * on the candidate socket: it needs no start and leaves the link valid.
 * Resolves with {ok: true, requestedAt} or {ok: false, reason} (see oneShot).
 */
export async function requestAccommodation({ url, needs, note, ...options }) {
  const result = await oneShot({
    url,
    message: { type: 'request_accommodation', needs, note },
    waitFor: 'assessment_info',
    answer: 'accommodation_request_received',
    ...options,
  });
  return result.ok ? { ok: true, requestedAt: result.msg.requested_at } : result;
}

/**
 * Send the voluntary self-identification of a completed attempt
 * (docs/protocol.md, "Self-identification socket"): `url` is
 * /ws/self-id/{token}, `sessionKey` the attempt's session key.
 * Resolves with {ok: true, recordedAt} or {ok: false, reason} (see oneShot).
 */
export async function sendSelfIdentification({ url, sessionKey, answers, ...options }) {
  const result = await oneShot({
    url,
    message: { type: 'self_identification', session_key: sessionKey, ...answers },
    waitFor: null,
    answer: 'self_identification_received',
    ...options,
  });
  return result.ok ? { ok: true, recordedAt: result.msg.recorded_at } : result;
}
