// Test helpers: an in-memory localStorage, a fake clock with timers, and a
// fake ingest server written independently of rules.js from docs/protocol.md.

export class MemStorage {
  constructor() { this.map = new Map(); this.failWrites = false; }
  get length() { return this.map.size; }
  key(i) { return [...this.map.keys()][i] ?? null; }
  getItem(k) { return this.map.has(k) ? this.map.get(k) : null; }
  setItem(k, v) {
    if (this.failWrites) throw new Error('QuotaExceededError');
    this.map.set(k, String(v));
  }
  removeItem(k) { this.map.delete(k); }
  clear() { this.map.clear(); }
}

export class FakeClock {
  constructor(start = Date.parse('2026-11-25T18:00:00.000Z')) {
    this.t = start;
    this.timers = new Map();
    this.nextId = 1;
    this.now = () => this.t;
    this.setTimer = (fn, ms) => {
      const id = this.nextId++;
      this.timers.set(id, { at: this.t + Math.max(0, ms), fn });
      return id;
    };
    this.clearTimer = (id) => { this.timers.delete(id); };
  }

  /** Move time forward, firing due timers in order. */
  advance(ms) {
    const end = this.t + ms;
    for (;;) {
      let next = null;
      for (const [id, tm] of this.timers) {
        if (tm.at <= end && (!next || tm.at < next[1].at)) next = [id, tm];
      }
      if (!next) break;
      this.timers.delete(next[0]);
      this.t = Math.max(this.t, next[1].at);
      next[1].fn();
    }
    this.t = end;
  }
}

/** Let pending promise callbacks run. */
export async function flush(times = 5) {
  for (let i = 0; i < times; i += 1) await new Promise((r) => setImmediate(r));
}

export function makeTasks(n = 3, { required = true, min = 20 } = {}) {
  return Array.from({ length: n }, (_, i) => ({
    id: `task${i}`,
    title: `Task ${i}`,
    description: '',
    scenario: 'A situation.',
    category: 'problem_solving',
    difficulty: 'easy',
    time_limit_seconds: null,
    reasoning_required: required,
    reasoning_min_length: min,
    options: [{ id: 'opt_1', text: 'One' }, { id: 'opt_2', text: 'Two' }, { id: 'opt_3', text: 'Three' }],
  }));
}

export function ctxFor(tasks) {
  return {
    indexOf: (id) => { const i = tasks.findIndex((t) => t.id === id); return i < 0 ? undefined : i; },
    task: (id) => tasks.find((t) => t.id === id),
    totalTasks: tasks.length,
  };
}

const INPUTS = ['pointer', 'keyboard', 'touch'];

const PY_WS = /[\t\n\v\f\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+/u;

/** Independent word count (a regex on the same set) for cross-checking. */
export function refWordCount(text) {
  return text.split(PY_WS).filter((w) => w.length > 0).length;
}

/**
 * The docs/protocol.md table, implemented again for the tests: returns an error
 * code or null. `st` is mutated when the event is accepted.
 */
export function refCheck(st, ev, tasks) {
  const p = ev.payload || {};
  const task = tasks.find((t) => t.id === ev.task_id);
  if (!task) return 'unknown_task';
  if (st.completed) return 'attempt_closed';
  const cur = tasks[st.index];
  const optIds = task.options.map((o) => o.id);
  const openHere = st.open && st.openId === ev.task_id;
  switch (ev.event_type) {
    case 'task_started':
      if (st.open || ev.task_id !== cur.id || p.task_index !== st.index) return 'invalid_transition';
      Object.assign(st, { open: true, openId: ev.task_id, selected: null, reasoning: false, submittedOk: false });
      return null;
    case 'option_viewed':
      if (!optIds.includes(p.option_id)) return 'unknown_option';
      if (!Number.isInteger(p.view_duration_ms) || p.view_duration_ms < 0) return 'invalid_payload';
      return openHere ? null : 'invalid_transition';
    case 'option_selected':
      if ('input' in p && !INPUTS.includes(p.input)) return 'invalid_payload';
      if (!optIds.includes(p.option_id)) return 'unknown_option';
      if (p.is_first_selection !== true) return 'invalid_payload';
      if (!openHere || st.selected !== null) return 'invalid_transition';
      st.selected = p.option_id;
      return null;
    case 'option_changed':
      if ('input' in p && !INPUTS.includes(p.input)) return 'invalid_payload';
      if (!optIds.includes(p.from_option_id) || !optIds.includes(p.to_option_id)) return 'unknown_option';
      if (!Number.isInteger(p.time_since_last_change_ms) || p.time_since_last_change_ms < 0) return 'invalid_payload';
      if (!openHere || st.selected === null || st.selected !== p.from_option_id) return 'invalid_transition';
      st.selected = p.to_option_id;
      return null;
    case 'reasoning_started':
      if (!Number.isInteger(p.time_since_task_start_ms) || p.time_since_task_start_ms < 0) return 'invalid_payload';
      if (!openHere || st.reasoning) return 'invalid_transition';
      st.reasoning = true;
      return null;
    case 'reasoning_updated':
      if (!openHere || !st.reasoning) return 'invalid_transition';
      if (!Number.isInteger(p.character_count) || !Number.isInteger(p.word_count)) return 'invalid_payload';
      return null;
    case 'reasoning_submitted': {
      if (!openHere || !st.reasoning) return 'invalid_transition';
      if (typeof p.final_text !== 'string') return 'invalid_payload';
      const expected = refWordCount(p.final_text);
      if (p.word_count !== expected) return { code: 'word_count_mismatch', expected };
      const chars = [...p.final_text].length;
      if (p.character_count !== chars) return 'invalid_payload';
      st.reasoning = false;
      st.submittedOk = chars >= (task.reasoning_min_length || 0);
      return null;
    }
    case 'task_completed':
      if (!optIds.includes(p.final_option_id)) return 'unknown_option';
      if (!openHere || st.selected === null || st.selected !== p.final_option_id) return 'invalid_transition';
      if (task.reasoning_required && !st.submittedOk) return 'invalid_transition';
      if (!Number.isInteger(p.task_duration_ms) || p.task_duration_ms < 0 || p.task_duration_ms >= 1_800_000) {
        return 'duration_out_of_range';
      }
      Object.assign(st, { open: false, openId: null, selected: null, reasoning: false, submittedOk: false });
      st.index += 1;
      if (st.index >= tasks.length) st.completed = true;
      return null;
    case 'focus_lost':
    case 'focus_gained':
      if (typeof p.trigger !== 'string') return 'invalid_payload';
      return ev.task_id === (st.open ? st.openId : cur.id) ? null : 'invalid_transition';
    case 'idle_detected':
      if (!Number.isInteger(p.idle_duration_ms) || p.idle_duration_ms <= 0) return 'invalid_payload';
      return ev.task_id === (st.open ? st.openId : cur.id) ? null : 'invalid_transition';
    case 'network_wait':
      if (!Number.isInteger(p.wait_duration_ms) || p.wait_duration_ms < 1 || p.wait_duration_ms > 86_400_000) return 'invalid_payload';
      if (typeof p.reason !== 'string' || p.reason.length > 100) return 'invalid_payload';
      return ev.task_id === (st.open ? st.openId : cur.id) ? null : 'invalid_transition';
    default:
      return 'invalid_event_type';
  }
}

export function refState() {
  return { index: 0, open: false, openId: null, selected: null, reasoning: false, submittedOk: false, completed: false };
}

/**
 * A fake server speaking the event part of the protocol: stores in seq
 * order, acks, rejects per refCheck, answers duplicates and gaps.
 */
export class FakeServer {
  constructor(tasks, { state = refState() } = {}) {
    this.tasks = tasks;
    this.state = state;
    this.stored = []; // events as stored
    this.sent = []; // every frame received (parsed)
    this.out = []; // answers, in order
    this.rejectNext = null; // force: {seq, code}
  }

  get lastSeq() { return this.stored.length; }

  receive(text) {
    const msg = JSON.parse(text);
    this.sent.push(msg);
    const answers = [];
    const events = msg.type === 'batch' ? msg.events : [msg];
    if (msg.type === 'batch' && (events.length > 500 || Buffer.byteLength(text) >= 48 * 1024)) {
      answers.push({ type: 'error', code: 'batch_too_large' });
      this.out.push(...answers);
      return answers;
    }
    const ackSeqs = [];
    const ackDup = [];
    let error = null;
    for (const ev of events) {
      if (ev.seq <= this.lastSeq) { ackDup.push(ev.seq); continue; }
      if (ev.seq !== this.lastSeq + 1) {
        error = { type: 'error', seq: ev.seq, code: 'sequence_gap', expected: this.lastSeq + 1 };
        break;
      }
      let res;
      if (this.rejectNext && this.rejectNext.seq === ev.seq) {
        res = this.rejectNext.code;
        this.rejectNext = null;
      } else {
        const copy = JSON.parse(JSON.stringify(this.state));
        res = refCheck(copy, ev, this.tasks);
        if (!res) this.state = copy;
      }
      if (res) {
        error = typeof res === 'object' ? { type: 'error', seq: ev.seq, ...res } : { type: 'error', seq: ev.seq, code: res };
        break;
      }
      this.stored.push(ev);
      ackSeqs.push(ev.seq);
    }
    if (ackDup.length) answers.push({ type: 'ack', seqs: ackDup, duplicate: true });
    if (ackSeqs.length) {
      answers.push(msg.type === 'batch'
        ? { type: 'ack', seqs: ackSeqs, event_ids: ackSeqs.map((s) => `e${s}`) }
        : { type: 'ack', seq: ackSeqs[0], event_id: `e${ackSeqs[0]}` });
    }
    if (error) answers.push(error);
    this.out.push(...answers);
    return answers;
  }
}

/** Connect an outbox to a fake server with answers delivered synchronously or on demand. */
export function wire(outbox, server, { auto = true } = {}) {
  const queue = [];
  const deliver = () => {
    while (queue.length) outbox.handleMessage(queue.shift());
  };
  outbox.attach((text) => {
    const answers = server.receive(text);
    queue.push(...answers);
    if (auto) queueMicrotask(deliver);
  });
  return { deliver, queue };
}

/** A seeded PRNG (mulberry32). */
export function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
