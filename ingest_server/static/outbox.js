// The outbox: every captured event, numbered, kept (in localStorage when
// there is one) until the server acknowledges it, then sent in order.
//
// Numbering: the queue always holds the seqs lastAcked+1, lastAcked+2, ...
// in order, so an event's seq is derived from its place and is never stored.
// Dropping a rejected event renumbers the ones after it for free; "renumber
// from expected" is just lastAcked = expected - 1.
//
// Sending is stop-and-wait per message: one message (an event or a batch of
// up to 500 events and under 48 KiB) is in flight at a time; its answer (an
// ack covering it, or an error) releases the next. Events captured meanwhile
// pile up and leave together in the next batch, so throughput is fine, and
// no stale message can ever be in flight when the queue is renumbered.

import { apply, check, initialState, isUncertain, learn, STRUCTURAL, uncertainState } from './rules.js';
import { utf8Bytes } from './text.js';

export const MAX_BATCH_EVENTS = 500;
export const MAX_BATCH_BYTES = 48 * 1024 - 512; // "under 48 KiB", with a margin
export const MAX_EVENT_BYTES = 63 * 1024; // a frame over 64 KiB is refused outright
export const MAX_TASK_DURATION_MS = 1_799_999;

// Rejections after which the event is fixed and re-sent instead of dropped.
const RETRY_LATER = new Set(['rate_limited']);
// Errors that are about the connection or another request, not an event.
const NOT_OURS = new Set(['token_already_used', 'task_not_available', 'incomplete', 'not_started', 'consent_required']);
// A full queue is never trimmed: nothing captured is ever dropped silently,
// so the page pauses input instead (see isFull) until the queue has drained
// below this share of both caps.
export const LOW_MARK = 0.8;

function isoNow(nowMs) {
  return new Date(nowMs).toISOString();
}

export class Outbox {
  /**
   * @param {object} o
   * @param {Storage|null} o.storage  localStorage or a stand-in (getItem/setItem/removeItem/key/length)
   * @param {string} o.ns             storage key prefix (one per assessment link)
   * @param {object} o.ctx            rules context: indexOf(taskId), task(taskId), totalTasks
   * @param {() => number} o.now
   */
  constructor({
    storage = null, ns = 'hm', ctx = {}, now = () => Date.now(),
    maxEvents = 5000, maxBytes = 2_000_000, batchMaxEvents = MAX_BATCH_EVENTS,
    batchMaxBytes = MAX_BATCH_BYTES, log = () => {},
  } = {}) {
    this.storage = storage;
    this.ns = ns;
    this.ctx = ctx;
    this.now = now;
    this.capEvents = maxEvents;
    this.capBytes = maxBytes;
    this.full = false;
    this.fullListeners = new Set();
    this.batchMaxEvents = batchMaxEvents;
    this.batchMaxBytes = batchMaxBytes;
    this.log = log;

    this.sessionKey = null;
    this.lastAcked = 0;
    this.confirmedState = initialState(0);
    this.queue = []; // {uid, task_id, event_type, payload, client_timestamp, fixes, bytes}
    this.nextUid = 1;
    this.projected = this.confirmedState;
    this.queueBytes = 0;

    this.send = null; // set while connected and resumed/started
    this.inflight = null; // {firstSeq, lastSeq, count, sentAt}
    this.pausedUntil = 0;
    this.pauseTimer = null;
    this.rateLimitDelay = 1000;
    this.gapStrikes = 0;
    this.waiters = new Map(); // uid -> [resolve]
    this.idleWaiters = [];
    this.listeners = new Set();
    this.closedCode = null; // set on attempt_closed
    this.persistOk = true;
  }

  // ------------------------------------------------------------ persistence

  metaKey() { return `${this.ns}.meta`; }
  eventKey(uid) { return `${this.ns}.e.${uid}`; }

  writeMeta() {
    if (!this.storage) return;
    try {
      this.storage.setItem(this.metaKey(), JSON.stringify({
        v: 1, sessionKey: this.sessionKey, lastAcked: this.lastAcked,
        confirmed: this.confirmedState, nextUid: this.nextUid,
      }));
    } catch (err) {
      this.persistOk = false;
      this.log('outbox: cannot persist meta', err);
    }
  }

  writeEvent(item) {
    if (!this.storage) return;
    const { uid, task_id, event_type, payload, client_timestamp, fixes } = item;
    try {
      this.storage.setItem(this.eventKey(uid), JSON.stringify({ uid, task_id, event_type, payload, client_timestamp, fixes }));
    } catch (err) {
      this.persistOk = false;
      this.log('outbox: cannot persist event', err);
    }
  }

  removeEvent(uid) {
    if (!this.storage) return;
    try { this.storage.removeItem(this.eventKey(uid)); } catch { /* ignore */ }
  }

  /** Restore what a previous page left. Returns true if a session was found. */
  load() {
    if (!this.storage) return false;
    let meta = null;
    try { meta = JSON.parse(this.storage.getItem(this.metaKey()) || 'null'); } catch { meta = null; }
    const prefix = `${this.ns}.e.`;
    const items = [];
    const keys = [];
    for (let i = 0; i < this.storage.length; i += 1) {
      const k = this.storage.key(i);
      if (k && k.startsWith(prefix)) keys.push(k);
    }
    for (const k of keys) {
      try {
        const item = JSON.parse(this.storage.getItem(k));
        if (item && Number.isInteger(item.uid)) items.push(item);
      } catch { /* a torn write: skip */ }
    }
    items.sort((a, b) => a.uid - b.uid);
    if (meta && meta.v === 1) {
      this.sessionKey = meta.sessionKey || null;
      this.lastAcked = Number.isInteger(meta.lastAcked) ? meta.lastAcked : 0;
      this.confirmedState = meta.confirmed || initialState(0);
      this.nextUid = Math.max(meta.nextUid || 1, ...items.map((it) => it.uid + 1));
    } else {
      this.nextUid = Math.max(1, ...items.map((it) => it.uid + 1));
    }
    this.queue = items.map((it) => ({ ...it, fixes: it.fixes || {}, bytes: this.measure(it) }));
    this.queueBytes = this.queue.reduce((n, it) => n + it.bytes, 0);
    this.recompute(false);
    this.checkFull(); // a page reloaded with a full queue starts paused
    return Boolean(this.sessionKey);
  }

  /** Forget everything (a finished, refused or new session). */
  clear() {
    if (this.storage) {
      const keys = [];
      for (let i = 0; i < this.storage.length; i += 1) {
        const k = this.storage.key(i);
        if (k && (k === this.metaKey() || k.startsWith(`${this.ns}.e.`))) keys.push(k);
      }
      for (const k of keys) {
        try { this.storage.removeItem(k); } catch { /* ignore */ }
      }
    }
    for (const item of this.queue) this.settle(item.uid, 'dropped');
    this.queue = [];
    this.queueBytes = 0;
    this.sessionKey = null;
    this.lastAcked = 0;
    this.confirmedState = initialState(0);
    this.projected = this.confirmedState;
    this.inflight = null;
    this.notify();
  }

  // ------------------------------------------------------------ state

  /** The state once everything queued is stored (what the page acts on). */
  state() { return this.projected; }

  /** The state of what the server has acknowledged. */
  confirmed() { return this.confirmedState; }

  pendingCount() { return this.queue.length; }

  // ------------------------------------------------------------ capacity

  // The caps are read on every change, and setting one re-checks at once, so
  // a test can shrink them on a running page (window.hiremate.outbox.maxEvents = 20).
  get maxEvents() { return this.capEvents; }
  set maxEvents(n) { this.capEvents = n; this.checkFull(); }
  get maxBytes() { return this.capBytes; }
  set maxBytes(n) { this.capBytes = n; this.checkFull(); }

  /** Is the queue at a cap? The page then pauses input until it drains. */
  isFull() { return this.full; }

  /** fn(full): called when the queue becomes full and when it has drained below the low mark. */
  onFullChange(fn) { this.fullListeners.add(fn); return () => this.fullListeners.delete(fn); }

  checkFull() {
    const n = this.queue.length;
    const bytes = this.queueBytes;
    let full = this.full;
    if (!full && (n >= this.capEvents || bytes >= this.capBytes)) full = true;
    else if (full && n < this.capEvents * LOW_MARK && bytes < this.capBytes * LOW_MARK) full = false;
    if (full === this.full) return;
    this.full = full;
    this.log(full ? 'outbox: full, input paused' : 'outbox: drained, input resumed', n, bytes);
    for (const fn of this.fullListeners) {
      try { fn(full); } catch (err) { this.log('outbox full listener', err); }
    }
  }

  nextSeq() { return this.lastAcked + this.queue.length + 1; }

  onChange(fn) { this.listeners.add(fn); return () => this.listeners.delete(fn); }

  notify() {
    this.checkFull();
    for (const fn of this.listeners) {
      try { fn(this); } catch (err) { this.log('outbox listener', err); }
    }
    if (this.queue.length === 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of waiters) w();
    }
  }

  /** Resolves with 'acked', 'rejected' or 'dropped' once the event is settled. */
  whenSettled(uid) {
    if (!this.queue.some((it) => it.uid === uid)) return Promise.resolve('unknown');
    return new Promise((resolve) => {
      const list = this.waiters.get(uid) || [];
      list.push(resolve);
      this.waiters.set(uid, list);
    });
  }

  /** Resolves when nothing is waiting for an acknowledgement. */
  whenEmpty() {
    if (this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  settle(uid, outcome) {
    const list = this.waiters.get(uid);
    if (!list) return;
    this.waiters.delete(uid);
    for (const resolve of list) resolve(outcome);
  }

  /** Rebuild the projected state from the confirmed one and the queue. With
   *  prune, unsent events that can no longer be valid are dropped too. */
  recompute(prune = true) {
    let s = this.confirmedState;
    const keep = [];
    for (let i = 0; i < this.queue.length; i += 1) {
      const item = this.queue[i];
      const inFlight = this.inflight && i < this.inflight.count;
      const verdict = check(s, item, this.ctx);
      if (verdict === 'no' && prune && !inFlight) {
        this.log('outbox: dropping an event that can no longer be valid', item.event_type);
        this.removeEvent(item.uid);
        this.queueBytes -= item.bytes;
        this.settle(item.uid, 'dropped');
        continue;
      }
      if (verdict !== 'no') s = apply(s, item, this.ctx);
      keep.push(item);
    }
    this.queue = keep;
    this.projected = s;
  }

  // ------------------------------------------------------------ capture side

  measure(item) {
    return utf8Bytes(JSON.stringify(this.wire(item, 1_000_000_000)));
  }

  wire(item, seq) {
    return {
      seq, task_id: item.task_id, event_type: item.event_type, payload: item.payload,
      client_timestamp: item.client_timestamp,
    };
  }

  /** What the rules say about an event right now ('yes' | 'no' | 'maybe'). */
  verdict(ev) { return check(this.projected, ev, this.ctx); }

  /**
   * Queue an event: {task_id, event_type, payload, client_timestamp?}.
   * Returns its uid, or null when the rules refuse it (it would only be
   * rejected) or it is too large to ever be sent.
   */
  enqueue(ev) {
    if (this.closedCode) return null;
    const verdict = check(this.projected, ev, this.ctx);
    if (verdict === 'no') {
      this.log('outbox: refusing an event the rules do not allow', ev.event_type, this.projected);
      return null;
    }
    const item = {
      uid: this.nextUid,
      task_id: ev.task_id,
      event_type: ev.event_type,
      payload: ev.payload || {},
      client_timestamp: ev.client_timestamp || isoNow(this.now()),
      fixes: {},
    };
    item.bytes = this.measure(item);
    if (item.bytes > MAX_EVENT_BYTES) {
      this.log('outbox: event too large to send', ev.event_type, item.bytes);
      return null;
    }
    this.nextUid += 1;
    this.queue.push(item);
    this.queueBytes += item.bytes;
    this.projected = apply(this.projected, item, this.ctx);
    this.writeEvent(item);
    this.writeMeta();
    this.notify(); // a full queue pauses the page (checkFull); the event is kept whatever the size
    this.pump();
    return item.uid;
  }

  // ------------------------------------------------------------ connection side

  /** The socket is ready (after started/resumed): start sending. */
  attach(send) {
    this.send = send;
    this.inflight = null;
    this.pump();
  }

  /** The socket is gone: whatever was in flight is sent again after resume. */
  detach() {
    this.send = null;
    this.inflight = null;
    if (this.pauseTimer) {
      clearTimeout(this.pauseTimer);
      this.pauseTimer = null;
    }
  }

  isAttached() { return Boolean(this.send); }

  setSessionKey(key) {
    this.sessionKey = key;
    this.writeMeta();
  }

  /**
   * `started`: a fresh session. resumedFrom (a re-issued link) is the last
   * stored seq of an attempt whose history this page never saw.
   */
  onStarted({ sessionKey, resumedFrom = null, currentTaskIndex = 0, totalTasks = null }) {
    for (const item of this.queue) {
      this.removeEvent(item.uid);
      this.settle(item.uid, 'dropped');
    }
    this.queue = [];
    this.queueBytes = 0;
    this.sessionKey = sessionKey;
    if (Number.isInteger(resumedFrom) && resumedFrom > 0) {
      this.lastAcked = resumedFrom;
      this.confirmedState = uncertainState(currentTaskIndex, totalTasks);
    } else {
      this.lastAcked = 0;
      this.confirmedState = initialState(currentTaskIndex || 0, totalTasks);
    }
    this.projected = this.confirmedState;
    this.writeMeta();
    this.notify();
  }

  /** `resumed`: every seq up to lastSequenceNumber is stored. */
  onResumed({ lastSequenceNumber, currentTaskIndex = null, totalTasks = null }) {
    const lsn = Number.isInteger(lastSequenceNumber) ? lastSequenceNumber : this.lastAcked;
    if (lsn >= this.lastAcked) {
      const known = this.lastAcked + this.queue.length;
      this.ackThrough(Math.min(lsn, known));
      if (lsn > known) {
        // The server holds events this page no longer has.
        this.lastAcked = lsn;
        this.confirmedState = uncertainState(currentTaskIndex ?? this.confirmedState.index, totalTasks);
      }
    } else {
      this.log('outbox: server has fewer events than acknowledged', lsn, this.lastAcked);
      this.lastAcked = lsn;
    }
    if (Number.isInteger(currentTaskIndex) && currentTaskIndex !== this.confirmedState.index) {
      this.confirmedState = uncertainState(currentTaskIndex, totalTasks);
    }
    this.recompute(true);
    this.writeMeta();
    this.notify();
  }

  ackThrough(seq) {
    let changed = false;
    while (this.queue.length && this.lastAcked < seq) {
      const item = this.queue.shift();
      this.lastAcked += 1;
      this.queueBytes -= item.bytes;
      this.confirmedState = apply(this.confirmedState, item, this.ctx);
      this.removeEvent(item.uid);
      this.settle(item.uid, 'acked');
      changed = true;
    }
    if (this.lastAcked < seq) {
      this.lastAcked = seq;
      changed = true;
    }
    if (this.inflight) {
      const acked = this.lastAcked - (this.inflight.firstSeq - 1);
      if (this.lastAcked >= this.inflight.lastSeq) this.inflight = null;
      else if (acked > 0) {
        this.inflight = { ...this.inflight, firstSeq: this.lastAcked + 1, count: this.inflight.count - acked };
      }
    }
    return changed;
  }

  /** Build and send the next message, if nothing is in flight. */
  pump() {
    if (!this.send || this.inflight || this.queue.length === 0 || this.closedCode) return;
    const wait = this.pausedUntil - this.now();
    if (wait > 0) {
      if (!this.pauseTimer) {
        this.pauseTimer = setTimeout(() => {
          this.pauseTimer = null;
          this.pump();
        }, wait);
      }
      return;
    }
    const firstSeq = this.lastAcked + 1;
    const sentAt = isoNow(this.now());
    let message;
    let count;
    // 80 bytes: {"type":"batch","sent_at":"...","events":[]} or an event's type and sent_at.
    if (this.queue.length === 1 || this.queue[0].bytes + 80 > this.batchMaxBytes || this.batchMaxEvents <= 1) {
      count = 1;
      message = { type: 'event', ...this.wire(this.queue[0], firstSeq), sent_at: sentAt };
    } else {
      const events = [];
      let bytes = 80; // {"type":"batch","sent_at":"...","events":[]}
      for (let i = 0; i < this.queue.length && events.length < this.batchMaxEvents; i += 1) {
        const item = this.queue[i];
        if (bytes + item.bytes + 1 > this.batchMaxBytes) break;
        bytes += item.bytes + 1;
        events.push(this.wire(item, firstSeq + i));
      }
      count = events.length;
      message = count === 1
        ? { type: 'event', ...events[0], sent_at: sentAt }
        : { type: 'batch', sent_at: sentAt, events };
    }
    this.inflight = { firstSeq, lastSeq: firstSeq + count - 1, count, sentAt: this.now() };
    try {
      this.send(JSON.stringify(message));
    } catch (err) {
      this.log('outbox: send failed', err);
      this.inflight = null;
    }
  }

  /** How long the message in flight has waited for its answer (ms), or 0. */
  inflightAge() { return this.inflight ? this.now() - this.inflight.sentAt : 0; }

  /**
   * Feed a server message. Returns true when it was an answer to events
   * (ack, or an error about an event), false otherwise.
   */
  handleMessage(msg) {
    if (!msg || typeof msg !== 'object') return false;
    if (msg.type === 'ack') {
      const seqs = Array.isArray(msg.seqs) ? msg.seqs : (Number.isInteger(msg.seq) ? [msg.seq] : []);
      if (seqs.length) {
        const top = Math.max(...seqs);
        // An ack is cumulative: the server stores strictly in order.
        if (top > this.lastAcked) this.ackThrough(Math.min(top, this.lastAcked + this.queue.length));
        this.gapStrikes = 0;
        this.rateLimitDelay = 1000;
        this.writeMeta();
        this.recompute(false);
        this.notify();
      }
      this.pump();
      return true;
    }
    if (msg.type !== 'error' || NOT_OURS.has(msg.code)) return false;
    if (!this.inflight && !Number.isInteger(msg.seq)) return false;
    this.handleError(msg);
    return true;
  }

  handleError(msg) {
    const code = msg.code;
    const inflight = this.inflight;
    const seq = Number.isInteger(msg.seq) ? msg.seq : (inflight ? inflight.firstSeq : null);
    this.inflight = null;

    if (code === 'attempt_closed') {
      this.closedCode = code;
      this.notify();
      return;
    }
    if (code === 'sequence_gap' && Number.isInteger(msg.expected)) {
      const stored = msg.expected - 1;
      if (stored > this.lastAcked) {
        this.ackThrough(Math.min(stored, this.lastAcked + this.queue.length));
        this.lastAcked = stored;
      } else {
        this.lastAcked = stored; // renumber the queue from `expected`
      }
      this.gapStrikes += 1;
      this.writeMeta();
      this.recompute(false);
      this.notify();
      if (this.gapStrikes > 3) this.pauseFor(Math.min(30000, 500 * 2 ** this.gapStrikes));
      this.pump();
      return;
    }
    if (RETRY_LATER.has(code)) {
      this.pauseFor(this.rateLimitDelay);
      this.rateLimitDelay = Math.min(this.rateLimitDelay * 2, 30000);
      this.pump();
      return;
    }
    if (code === 'batch_too_large') {
      this.batchMaxEvents = Math.max(1, Math.floor(this.batchMaxEvents / 2));
      this.batchMaxBytes = Math.max(4096, Math.floor(this.batchMaxBytes / 2));
      this.pump();
      return;
    }
    // In a batch, the events before the rejected one are stored.
    if (inflight && seq !== null && seq > this.lastAcked + 1 && seq <= inflight.lastSeq) {
      this.ackThrough(seq - 1);
      this.writeMeta();
    }
    const index = seq === null ? -1 : seq - this.lastAcked - 1;
    if (index < 0 || index >= this.queue.length) {
      this.log('outbox: error for a seq not in the queue', msg);
      this.pump();
      return;
    }
    const item = this.queue[index];
    if (code === 'word_count_mismatch' && Number.isInteger(msg.expected) && item.payload
        && 'word_count' in item.payload && item.fixes.word_count !== msg.expected) {
      item.payload = { ...item.payload, word_count: msg.expected };
      item.fixes = { ...item.fixes, word_count: msg.expected };
      item.bytes = this.measure(item);
      this.writeEvent(item);
      this.pump();
      return;
    }
    if (code === 'duration_out_of_range' && item.event_type === 'task_completed' && !item.fixes.duration) {
      const d = item.payload.task_duration_ms;
      const clamped = Math.max(0, Math.min(MAX_TASK_DURATION_MS, Number.isFinite(d) ? Math.round(d) : 0));
      item.payload = { ...item.payload, task_duration_ms: clamped };
      item.fixes = { ...item.fixes, duration: true };
      this.writeEvent(item);
      this.pump();
      return;
    }
    // Rejected: drop it; the ones after it move down one seq (a rejected seq
    // is not used up). Learn what the refusal says about unknown state.
    this.log('outbox: event rejected', code, item.event_type, msg.message || '');
    if (code === 'invalid_transition' && index === 0) {
      this.confirmedState = learn(this.confirmedState, item, this.ctx);
    }
    this.queue.splice(index, 1);
    this.queueBytes -= item.bytes;
    this.removeEvent(item.uid);
    this.settle(item.uid, 'rejected');
    this.recompute(true);
    this.writeMeta();
    this.notify();
    this.pump();
  }

  pauseFor(ms) {
    this.pausedUntil = this.now() + ms;
  }

  /** True when the projected state holds unknowns (see rules.js). */
  uncertain() { return isUncertain(this.projected); }

  /** Is any structural event still waiting? */
  hasStructuralPending() { return this.queue.some((it) => STRUCTURAL.has(it.event_type)); }
}
