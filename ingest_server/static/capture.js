// What the candidate does, turned into events (docs/protocol.md, seed section 3).
// No DOM here: app.js calls these methods from its listeners, and node tests
// call them with a fake clock.
//
// Every event is produced by a "goal": a function of the rules state that
// returns the next event to send, or null once the goal is met. While the
// state is certain (the normal case) goals run at once, synchronously. When
// the page took over an attempt it did not see (a re-issued link), the state
// holds unknowns, and goals wait for the server's answer to each step, so
// what it refuses teaches the page the real state (rules.learn).

import { isUncertain, SOME, UNKNOWN } from './rules.js';
import { pyLen, wordCount } from './text.js';

export const VIEW_MIN_MS = 300;
// A focus an arrow key (or Tab) moved onto an option is a view however short:
// the person asked for that option, and a screen reader reads it out at once.
// The floor only keeps out a held-down key's auto-repeat (about 30-40 ms).
export const KEY_VIEW_MIN_MS = 50;
// Native radios select as the arrow keys move, so a keyboard selection counts
// only once it has stayed this long (or focus leaves the group, the person
// types, or presses Next): reading the options is not changing one's mind.
export const KEY_COMMIT_MS = 800;
export const IDLE_MS = 30000;
export const UPDATE_EVERY_MS = 1000;
export const BLUR_SETTLE_MS = 150;
// A wait on the page (next task, saving, reconnecting) shorter than this is not reported.
export const WAIT_MIN_MS = 1000;
const WAIT_MAX_MS = 86_400_000;
const MAX_STEPS = 30;

const iso = (ms) => new Date(ms).toISOString();

export class Tracker {
  /**
   * @param {object} o
   * @param {import('./outbox.js').Outbox} o.outbox
   * @param {(index: number) => string|undefined} o.taskIdAt  id of the task at an index, if known
   * @param {boolean} [o.assistive]  assistive technology in use: no idle or away events at all
   */
  constructor({
    outbox, now = () => Date.now(), setTimer = (fn, ms) => setTimeout(fn, ms),
    clearTimer = (t) => clearTimeout(t), taskIdAt = () => undefined, onAnswerChange = () => {},
    onFocusChange = () => {}, log = () => {}, assistive = false,
  }) {
    this.outbox = outbox;
    this.now = now;
    this.setTimer = setTimer;
    this.clearTimer = clearTimer;
    this.taskIdAt = taskIdAt;
    this.onAnswerChange = onAnswerChange;
    this.onFocusChange = onFocusChange;
    this.log = log;
    // An accommodation: a screen reader user listening, or a switch user, is
    // neither idle nor away, so neither is observed (not just not interpreted).
    this.assistive = assistive;

    this.active = false;
    this.task = null;
    this.taskStartMs = 0;
    this.lastChangeMs = null;
    this.selected = null;
    this.selectedInput = undefined;
    this.pendingSel = null; // a keyboard selection still settling: {optionId, at, input, task}
    this.commitTimer = null;
    this.heldViews = []; // views that ended while a selection was settling: [{at, g}]
    this.waiting = null; // the page cannot proceed: {since, reason}
    this.text = '';
    this.views = new Map();
    this.lastUpdateMs = 0;
    this.lastReported = null;
    this.updateTimer = null;

    this.lastActivityMs = now();
    this.lastActivityType = 'page_load';
    this.focused = true;
    this.hidden = false;
    this.lostTrigger = null;
    this.lostEmitted = false;
    this.blurTimer = null;
    this.blurAt = 0;

    this.pendingNoTask = [];
    this.goals = [];
    this.running = false;
  }

  // ------------------------------------------------------------ life cycle

  /** The attempt is in progress: start capturing. */
  begin() {
    this.active = true;
    this.lastActivityMs = this.now();
    this.lastActivityType = 'start';
  }

  /** Stop capturing (finished, taken over, closed). */
  stop() {
    this.active = false;
    this.dropPending();
    this.heldViews = [];
    this.waiting = null;
    if (this.updateTimer) this.clearTimer(this.updateTimer);
    if (this.blurTimer) this.clearTimer(this.blurTimer);
    this.updateTimer = null;
    this.blurTimer = null;
    this.pendingNoTask = [];
  }

  answer() {
    return {
      taskId: this.task ? this.task.id : null, selected: this.selected, text: this.text,
      startedAt: this.taskStartMs, lastChangeAt: this.lastChangeMs,
    };
  }

  /**
   * Show a task (the one at the current index `index`). `restored` is what
   * this device remembered about it: {selected, text, startedAt, lastChangeAt}.
   */
  showTask(taskData, index, restored = {}) {
    this.commitSelection(); // Next committed it already; this only guards a direct switch
    const now = this.now();
    const task = { ...taskData, index };
    this.task = task;
    this.selected = restored.selected ?? null;
    this.selectedInput = undefined;
    this.text = restored.text ?? '';
    this.taskStartMs = Number.isFinite(restored.startedAt) ? restored.startedAt : now;
    this.lastChangeMs = Number.isFinite(restored.lastChangeAt) ? restored.lastChangeAt : null;
    this.views.clear();
    this.lastReported = null;
    if (this.updateTimer) this.clearTimer(this.updateTimer);
    this.updateTimer = null;

    // Focus and idle events that waited for this task's id.
    const waiting = this.pendingNoTask;
    this.pendingNoTask = [];
    for (const ev of waiting) this.push(once({ ...ev, task_id: task.id }));

    const s = this.outbox.state();
    if (!(s.open === true && s.taskId === task.id)) {
      if (!Number.isFinite(restored.startedAt) || s.open === false) this.taskStartMs = now;
      this.push(goal((st) => {
        if (st.finished || st.open === true || st.index !== task.index) return null;
        return this.event('task_started', { task_index: task.index }, now);
      }));
    }
    this.onAnswerChange(this.answer());
  }

  // ------------------------------------------------------------ options

  /**
   * how: 'hover' | 'focus'. keyed: the focus was moved there by a key (an
   * arrow or Tab), which makes it a view from KEY_VIEW_MIN_MS.
   */
  viewOn(optionId, how, { keyed = false } = {}) {
    if (!this.active || !this.task) return;
    const v = this.views.get(optionId) || { hover: false, focus: false, since: 0, keyed: false };
    if (!v.hover && !v.focus) {
      v.since = this.now();
      v.keyed = false;
    }
    if (how === 'focus' && keyed) v.keyed = true;
    v[how] = true;
    this.views.set(optionId, v);
  }

  viewOff(optionId, how) {
    const v = this.views.get(optionId);
    if (!v) return;
    v[how] = false;
    if (!v.hover && !v.focus) this.endView(optionId, v, this.now());
  }

  endView(optionId, v, at) {
    this.views.delete(optionId);
    const duration = at - v.since;
    const min = v.keyed ? KEY_VIEW_MIN_MS : VIEW_MIN_MS;
    if (!this.active || !this.task || duration < min || !this.focused) return;
    const task = this.task;
    const g = once(null, (st) => (st.open === false || (st.taskId && st.taskId !== task.id) ? null
      : this.event('option_viewed', { option_id: optionId, view_duration_ms: Math.round(duration) }, at, task.id)));
    // Held while a keyboard selection settles, so the events keep the order of their times.
    if (this.pendingSel) this.heldViews.push({ at, g });
    else this.push(g);
  }

  endAllViews(at = this.now()) {
    for (const [id, v] of [...this.views]) this.endView(id, v, at);
  }

  /**
   * An option was chosen. input: 'pointer' | 'keyboard' | 'touch' (or
   * undefined: not known, sent without it). A pointer or touch choice is
   * committed at once; a keyboard one once it has stayed KEY_COMMIT_MS, or
   * at commitSelection() (focus left the group, typing, Next, leaving the page).
   */
  select(optionId, input = undefined) {
    if (!this.task || optionId === this.selected) return;
    const now = this.now();
    this.selected = optionId;
    this.selectedInput = input;
    if (!this.active) {
      this.lastChangeMs = now;
      this.onAnswerChange(this.answer());
      return;
    }
    if (input === 'keyboard') {
      this.pendingSel = { optionId, at: now, input, task: this.task };
      if (this.commitTimer) this.clearTimer(this.commitTimer);
      this.commitTimer = this.setTimer(() => {
        this.commitTimer = null;
        this.commitSelection();
      }, KEY_COMMIT_MS);
      this.onAnswerChange(this.answer());
      return;
    }
    this.dropPending(); // a click replaces a keyboard selection that had not settled
    this.emitSelection(optionId, now, input, this.task);
    this.onAnswerChange(this.answer());
  }

  /** Commit a keyboard selection that is still settling, stamped when it was made. */
  commitSelection() {
    const p = this.pendingSel;
    if (!p) return;
    this.dropPending();
    const st = this.outbox.state();
    if (st.open === true && st.taskId === p.task.id && st.selected === p.optionId) {
      this.releaseHeld(); // back on the option already chosen: nothing changed
      return;
    }
    this.emitSelection(p.optionId, p.at, p.input, p.task);
    this.onAnswerChange(this.answer());
  }

  /** Forget the settling selection's timer (its views stay held until released). */
  dropPending() {
    if (this.commitTimer) this.clearTimer(this.commitTimer);
    this.commitTimer = null;
    this.pendingSel = null;
  }

  emitSelection(optionId, at, input, task) {
    const since = this.lastChangeMs === null ? 0 : Math.max(0, at - this.lastChangeMs);
    this.lastChangeMs = at;
    // Views that ended before the selection go first, the later ones after it.
    const held = this.heldViews;
    this.heldViews = [];
    for (const h of held) if (h.at <= at) this.push(h.g);
    this.push(goal((st) => this.selectionStep(st, task, optionId, since, at, input)));
    for (const h of held) if (h.at > at) this.push(h.g);
  }

  releaseHeld() {
    const held = this.heldViews;
    this.heldViews = [];
    for (const h of held) this.push(h.g);
  }

  selectionStep(st, task, target, since, at, input = undefined) {
    if (st.finished || st.open === false || st.index !== task.index) return null;
    if (st.selected === target) return null;
    const how = input ? { input } : {};
    if (st.selected === null || st.selected === UNKNOWN) {
      return this.event('option_selected', { option_id: target, is_first_selection: true, ...how }, at, task.id);
    }
    let from = st.selected;
    if (from === SOME) {
      from = (task.options || []).map((o) => o.id).find((id) => id !== target && !st.excluded.includes(id));
      if (!from) return null;
    }
    return this.event('option_changed', {
      from_option_id: from, to_option_id: target, time_since_last_change_ms: Math.round(since), ...how,
    }, at, task.id);
  }

  // ------------------------------------------------------------ reasoning

  reasoningInput(text) {
    if (!this.task) return;
    this.commitSelection(); // typing means the choice is made
    this.text = text;
    this.onAnswerChange(this.answer());
    if (!this.active) return;
    const now = this.now();
    const task = this.task;
    const before = this.outbox.state();
    if (before.reasoning !== true) {
      this.lastUpdateMs = now;
      this.lastReported = null;
      const sinceStart = Math.max(0, Math.round(now - this.taskStartMs));
      this.push(goal((st) => (st.finished || st.open === false || st.reasoning === true || st.index !== task.index ? null
        : this.event('reasoning_started', { time_since_task_start_ms: sinceStart }, now, task.id))));
    }
    if (!this.updateTimer) {
      const due = this.lastUpdateMs + UPDATE_EVERY_MS;
      if (now >= due) this.emitUpdate();
      else this.updateTimer = this.setTimer(() => this.emitUpdate(), due - now);
    }
  }

  emitUpdate() {
    this.updateTimer = null;
    if (!this.active || !this.task) return;
    const now = this.now();
    const counts = { character_count: pyLen(this.text), word_count: wordCount(this.text) };
    if (this.lastReported && this.lastReported.character_count === counts.character_count
        && this.lastReported.word_count === counts.word_count && this.lastReported.text === this.text) return;
    this.lastUpdateMs = now;
    this.lastReported = { ...counts, text: this.text };
    const task = this.task;
    this.push(once(null, (st) => (st.reasoning === false || st.open === false || st.taskId !== task.id && st.open === true
      ? null : this.event('reasoning_updated', counts, now, task.id))));
  }

  /** The person left the reasoning box (or pressed Next): submit it if in progress. */
  reasoningLeave() {
    if (!this.task || !this.active) return;
    if (this.updateTimer) this.clearTimer(this.updateTimer);
    this.updateTimer = null;
    const now = this.now();
    const text = this.text;
    const task = this.task;
    if (this.outbox.state().reasoning === false) return;
    this.push(goal((st) => (st.reasoning === false || st.open === false || st.index !== task.index ? null
      : this.event('reasoning_submitted', {
        final_text: text, word_count: wordCount(text), character_count: pyLen(text),
      }, now, task.id))));
  }

  // ------------------------------------------------------------ completing

  /**
   * Next / Finish. Resolves with true once the task's completion is queued
   * (at once normally; after the server's answers when the state is
   * uncertain), false when it could not be.
   */
  next() {
    if (!this.task || !this.active) return Promise.resolve(false);
    this.commitSelection();
    const now = this.now();
    this.flushIdle(now);
    this.endAllViews(now);
    this.reasoningLeave();
    const task = this.task;
    const target = this.selected;
    const text = this.text;
    const since = this.lastChangeMs === null ? 0 : Math.max(0, now - this.lastChangeMs);
    const duration = Math.max(0, Math.round(now - this.taskStartMs));
    const min = task.reasoning_min_length || 0;
    let sent = false;
    const g = goal((st) => {
      if (sent || st.finished || st.index !== task.index || !target) return null;
      if (st.open !== true) {
        return st.open === false || st.open === null ? this.event('task_started', { task_index: task.index }, now, task.id) : null;
      }
      if (st.selected !== target) return this.selectionStep(st, task, target, since, now, this.selectedInput);
      const needs = task.reasoning_required && (st.submitted === null || st.submitted < min);
      if (st.reasoning === true || st.reasoning === null || needs) {
        if (st.reasoning === false && pyLen(text) < min) return null; // the page's gate should prevent this
        if (st.reasoning === false) {
          return this.event('reasoning_started', { time_since_task_start_ms: duration }, now, task.id);
        }
        return this.event('reasoning_submitted', {
          final_text: text, word_count: wordCount(text), character_count: pyLen(text),
        }, now, task.id);
      }
      sent = true;
      return this.event('task_completed', { final_option_id: target, task_duration_ms: duration }, now, task.id);
    });
    g.onRejected = (ev) => {
      if (ev.event_type === 'task_completed') sent = false;
    };
    this.task = null;
    this.views.clear();
    if (this.updateTimer) this.clearTimer(this.updateTimer);
    this.updateTimer = null;
    // Settled the moment the goal is done, before any later answer can change the state.
    const done = new Promise((resolve) => {
      g.resolve = () => resolve(this.outbox.state().index > task.index || this.outbox.state().finished);
    });
    this.push(g);
    return done;
  }

  // ------------------------------------------------------------ idle and focus

  /** Any input: pointer, key, scroll, touch, typing. */
  activity(type) {
    const now = this.now();
    this.flushIdle(now);
    this.lastActivityMs = now;
    this.lastActivityType = type;
  }

  /** An idle period ends at `at`: report it if it lasted IDLE_MS or more (never while waiting). */
  flushIdle(at) {
    if (!this.active || this.hidden || !this.focused) return;
    const gap = Math.round(at - this.lastActivityMs);
    if (gap >= IDLE_MS && !this.waiting && !this.assistive) {
      this.meta('idle_detected', { idle_duration_ms: gap, last_activity_type: this.lastActivityType }, at);
    }
    this.lastActivityMs = at;
  }

  visibilityChange(hidden) {
    const now = this.now();
    if (hidden) {
      let at = now;
      if (this.blurTimer) {
        this.clearTimer(this.blurTimer);
        this.blurTimer = null;
        at = this.blurAt;
      }
      if (this.focused) this.lose('tab_switch', at);
      this.hidden = true;
    } else {
      this.hidden = false;
      if (!this.focused && this.lostTrigger === 'tab_switch') this.gain();
    }
  }

  windowBlur() {
    if (!this.focused || this.blurTimer || this.hidden) return;
    this.blurAt = this.now();
    this.blurTimer = this.setTimer(() => {
      this.blurTimer = null;
      if (this.focused && !this.hidden) this.lose('window_blur', this.blurAt);
    }, BLUR_SETTLE_MS);
  }

  windowFocus() {
    if (this.blurTimer) {
      this.clearTimer(this.blurTimer); // a blink: nothing was lost
      this.blurTimer = null;
      return;
    }
    if (!this.focused && !this.hidden) this.gain();
  }

  lose(trigger, at) {
    this.commitSelection();
    this.flushIdle(at);
    this.endAllViews(at);
    this.focused = false;
    this.lostTrigger = trigger;
    // Not while the page waits (the wait is the page's, not the person's;
    // setWaiting reports the leave when the wait ends), and never with
    // assistive technology in use.
    this.lostEmitted = this.active && !this.waiting && !this.assistive;
    if (this.lostEmitted) {
      this.meta('focus_lost', { trigger }, at);
      this.onFocusChange(trigger);
    }
  }

  /**
   * The page was left (closed or reloaded) after a focus_lost: the person is
   * back now, so close the pair with a focus_gained.
   */
  restoreLost(trigger, visible = true) {
    this.focused = false;
    this.lostEmitted = true;
    this.lostTrigger = trigger;
    this.hidden = !visible;
    if (visible) this.gain();
  }

  gain() {
    const now = this.now();
    const trigger = this.lostTrigger || 'window_blur';
    this.focused = true;
    this.lastActivityMs = now;
    this.lastActivityType = 'focus_gained';
    if (this.lostEmitted && this.active) {
      this.meta('focus_gained', { trigger }, now);
      this.onFocusChange(null);
    }
    this.lostEmitted = false;
    this.lostTrigger = null;
  }

  // ------------------------------------------------------------ waiting on the page

  /**
   * The page cannot proceed (reason 'next_task' | 'finishing' | 'queue_full'
   * | 'reconnecting'), or can again (null). While it waits, idle and away
   * are not observed; when the wait ends, a network_wait covering it is sent
   * (from WAIT_MIN_MS), stamped at its end, and the idle clock starts again.
   * A reason given while already waiting replaces the first: the wait is
   * reported with the reason that held when it ended.
   */
  setWaiting(reason) {
    const now = this.now();
    if (reason) {
      if (this.waiting) {
        this.waiting.reason = reason;
        return;
      }
      this.flushIdle(now); // an idle period before the wait is still the person's
      this.waiting = { since: now, reason };
      return;
    }
    const w = this.waiting;
    if (!w) return;
    this.waiting = null;
    const duration = Math.round(now - w.since);
    if (duration >= WAIT_MIN_MS) {
      this.meta('network_wait', { wait_duration_ms: Math.min(duration, WAIT_MAX_MS), reason: w.reason }, now);
    }
    this.lastActivityMs = now;
    if (this.active && !this.focused && !this.lostEmitted && !this.assistive && this.lostTrigger) {
      // Left during the wait and still away: away from now on.
      this.lostEmitted = true;
      this.meta('focus_lost', { trigger: this.lostTrigger }, now);
      this.onFocusChange(this.lostTrigger);
    }
  }

  isWaiting() { return Boolean(this.waiting); }

  /** focus_lost / focus_gained / idle_detected / network_wait: on the open task, or the task at current_task_index. */
  meta(type, payload, at) {
    if (!this.active) return;
    const st = this.outbox.state();
    if (st.finished) return;
    const taskId = st.open === true && st.taskId ? st.taskId : this.taskIdAt(st.index);
    const ev = { event_type: type, payload, client_timestamp: iso(at) };
    if (!taskId) {
      this.pendingNoTask.push(ev);
      return;
    }
    this.push(once({ ...ev, task_id: taskId }));
  }

  // ------------------------------------------------------------ goals

  event(type, payload, at, taskId = this.task && this.task.id) {
    return { task_id: taskId, event_type: type, payload, client_timestamp: iso(at) };
  }

  push(g) {
    this.goals.push(g);
    if (!this.running) this.drain();
  }

  /** Idle when nothing waits to be turned into events. */
  isDrained() { return !this.running && this.goals.length === 0; }

  async drain() {
    this.running = true;
    try {
      while (this.goals.length) {
        const g = this.goals[0];
        for (let step = 0; step < MAX_STEPS; step += 1) {
          if (isUncertain(this.outbox.state()) && this.outbox.pendingCount() > 0) {
            await this.outbox.whenEmpty();
            continue;
          }
          const uncertain = isUncertain(this.outbox.state());
          const ev = g.build(this.outbox.state());
          if (!ev) break;
          const uid = this.outbox.enqueue(ev);
          if (uid === null) break;
          if (uncertain) {
            const outcome = await this.outbox.whenSettled(uid);
            if (outcome === 'rejected' && g.onRejected) g.onRejected(ev);
          }
          if (g.once) break;
        }
        this.goals.shift();
        if (g.resolve) g.resolve();
      }
    } catch (err) {
      this.log('tracker: goal failed', err);
      this.goals = [];
    } finally {
      this.running = false;
    }
  }
}

function goal(build) {
  return { build, once: false };
}

/** A single event (or a builder for one), sent if the rules allow it. */
function once(ev, build = null) {
  return { build: build || (() => ev), once: true };
}
