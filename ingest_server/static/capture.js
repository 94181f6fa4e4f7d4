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
export const IDLE_MS = 30000;
export const UPDATE_EVERY_MS = 1000;
export const BLUR_SETTLE_MS = 150;
const MAX_STEPS = 30;

const iso = (ms) => new Date(ms).toISOString();

export class Tracker {
  /**
   * @param {object} o
   * @param {import('./outbox.js').Outbox} o.outbox
   * @param {(index: number) => string|undefined} o.taskIdAt  id of the task at an index, if known
   */
  constructor({
    outbox, now = () => Date.now(), setTimer = (fn, ms) => setTimeout(fn, ms),
    clearTimer = (t) => clearTimeout(t), taskIdAt = () => undefined, onAnswerChange = () => {},
    onFocusChange = () => {}, log = () => {},
  }) {
    this.outbox = outbox;
    this.now = now;
    this.setTimer = setTimer;
    this.clearTimer = clearTimer;
    this.taskIdAt = taskIdAt;
    this.onAnswerChange = onAnswerChange;
    this.onFocusChange = onFocusChange;
    this.log = log;

    this.active = false;
    this.task = null;
    this.taskStartMs = 0;
    this.lastChangeMs = null;
    this.selected = null;
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
    const now = this.now();
    const task = { ...taskData, index };
    this.task = task;
    this.selected = restored.selected ?? null;
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

  viewOn(optionId, how) {
    if (!this.active || !this.task) return;
    const v = this.views.get(optionId) || { hover: false, focus: false, since: 0 };
    if (!v.hover && !v.focus) v.since = this.now();
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
    if (!this.active || !this.task || duration < VIEW_MIN_MS || !this.focused) return;
    const task = this.task;
    this.push(once(null, (st) => (st.open === false || (st.taskId && st.taskId !== task.id) ? null
      : this.event('option_viewed', { option_id: optionId, view_duration_ms: Math.round(duration) }, at, task.id))));
  }

  endAllViews(at = this.now()) {
    for (const [id, v] of [...this.views]) this.endView(id, v, at);
  }

  select(optionId) {
    if (!this.task || optionId === this.selected) return;
    const now = this.now();
    const since = this.lastChangeMs === null ? 0 : Math.max(0, now - this.lastChangeMs);
    this.selected = optionId;
    this.lastChangeMs = now;
    this.onAnswerChange(this.answer());
    if (!this.active) return;
    const task = this.task;
    this.push(goal((st) => this.selectionStep(st, task, optionId, since, now)));
  }

  selectionStep(st, task, target, since, at) {
    if (st.finished || st.open === false || st.index !== task.index) return null;
    if (st.selected === target) return null;
    if (st.selected === null || st.selected === UNKNOWN) {
      return this.event('option_selected', { option_id: target, is_first_selection: true }, at, task.id);
    }
    let from = st.selected;
    if (from === SOME) {
      from = (task.options || []).map((o) => o.id).find((id) => id !== target && !st.excluded.includes(id));
      if (!from) return null;
    }
    return this.event('option_changed', {
      from_option_id: from, to_option_id: target, time_since_last_change_ms: Math.round(since),
    }, at, task.id);
  }

  // ------------------------------------------------------------ reasoning

  reasoningInput(text) {
    if (!this.task) return;
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
      if (st.selected !== target) return this.selectionStep(st, task, target, since, now);
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

  /** An idle period ends at `at`: report it if it lasted IDLE_MS or more. */
  flushIdle(at) {
    if (!this.active || this.hidden || !this.focused) return;
    const gap = Math.round(at - this.lastActivityMs);
    if (gap >= IDLE_MS) {
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
    this.flushIdle(at);
    this.endAllViews(at);
    this.focused = false;
    this.lostTrigger = trigger;
    this.lostEmitted = this.active;
    if (this.active) {
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

  /** focus_lost / focus_gained / idle_detected: on the open task, or the task at current_task_index. */
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
