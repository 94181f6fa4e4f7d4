// A mirror of the server's "what each event is allowed to follow" table
// (docs/protocol.md). The page only ever sends events this mirror allows, so a
// correct page never earns an invalid_transition.
//
// State (plain JSON, persisted with the outbox):
//   index      current_task_index
//   open       is the task at `index` open? true | false | null (unknown)
//   taskId     id of the open task (null when none or unknown)
//   selected   null (nothing selected) | "<option id>" | UNKNOWN (may be
//              none) | SOME (some option, which one is unknown)
//   excluded   option ids known NOT to be the selected one (when unknown)
//   reasoning  reasoning in progress: true | false | null (unknown)
//   submitted  character_count of the last reasoning_submitted in the open
//              task, -1 for none, null for unknown
//   finished   the last task has been completed
//
// Unknowns only appear when the page takes over an attempt whose events it
// did not send (a link re-issued to a new device): the server tells the
// current_task_index but not the open task's state. The page then learns
// from the server's answers (see learn()).

export const UNKNOWN = '?';
export const SOME = '*';

// Meta events: allowed at any time, on the open task or the task at the index.
const ALWAYS = new Set(['focus_lost', 'focus_gained', 'idle_detected', 'network_wait']);
export const STRUCTURAL = new Set([
  'task_started', 'option_selected', 'option_changed', 'reasoning_started',
  'reasoning_submitted', 'task_completed',
]);

export function initialState(index = 0, totalTasks = null) {
  return {
    index, open: false, taskId: null, selected: null, excluded: [], reasoning: false,
    submitted: -1, finished: totalTasks != null && index >= totalTasks,
  };
}

/** The state of an attempt taken over without its history. */
export function uncertainState(index = 0, totalTasks = null) {
  return {
    index, open: null, taskId: null, selected: UNKNOWN, excluded: [], reasoning: null,
    submitted: null, finished: totalTasks != null && index >= totalTasks,
  };
}

/** Does the state hold anything unknown? */
export function isUncertain(state) {
  return state.open === null || state.selected === UNKNOWN || state.selected === SOME
    || state.reasoning === null || state.submitted === null;
}

function taskMatches(state, ev, ctx) {
  if (state.open === true && state.taskId) return ev.task_id === state.taskId;
  const idx = ctx && ctx.indexOf ? ctx.indexOf(ev.task_id) : undefined;
  if (idx === undefined || idx === null) return true; // the page does not know: let the server say
  return idx === state.index;
}

function worst(a, b) {
  if (a === 'no' || b === 'no') return 'no';
  if (a === 'maybe' || b === 'maybe') return 'maybe';
  return 'yes';
}

/**
 * May `ev` ({task_id, event_type, payload}) follow `state`?
 * Returns 'yes', 'no' or 'maybe' (depends on something unknown).
 * ctx: {indexOf(taskId) -> index|undefined, task(taskId) -> {reasoning_required,
 * reasoning_min_length, options:[{id}]}|undefined}
 */
export function check(state, ev, ctx = {}) {
  if (state.finished) return 'no';
  const type = ev.event_type;
  const p = ev.payload || {};
  if (ALWAYS.has(type)) return taskMatches(state, ev, ctx) ? 'yes' : 'no';
  if (type === 'task_started') {
    if (state.open === true) return 'no';
    if (p.task_index !== state.index) return 'no';
    if (!taskMatches({ ...state, open: false }, ev, ctx)) return 'no';
    return state.open === null ? 'maybe' : 'yes';
  }
  // Everything else needs its task open.
  let verdict;
  if (state.open === false) return 'no';
  if (state.open === null) {
    if (!taskMatches(state, ev, ctx)) return 'no';
    verdict = 'maybe';
  } else {
    if (ev.task_id !== state.taskId) return 'no';
    verdict = 'yes';
  }
  const sel = state.selected;
  const unknownSel = sel === UNKNOWN || sel === SOME;
  switch (type) {
    case 'option_viewed':
      return verdict;
    case 'option_selected':
      if (sel === null) return verdict;
      if (sel === UNKNOWN) return 'maybe';
      return 'no';
    case 'option_changed':
      if (sel === null) return 'no';
      if (unknownSel) return state.excluded.includes(p.from_option_id) ? 'no' : 'maybe';
      return p.from_option_id === sel ? verdict : 'no';
    case 'reasoning_started':
      if (state.reasoning === true) return 'no';
      return state.reasoning === null ? 'maybe' : verdict;
    case 'reasoning_updated':
    case 'reasoning_submitted':
      if (state.reasoning === false) return 'no';
      return state.reasoning === null ? 'maybe' : verdict;
    case 'task_completed': {
      let v = verdict;
      if (sel === null) return 'no';
      if (unknownSel) {
        if (state.excluded.includes(p.final_option_id)) return 'no';
        v = worst(v, 'maybe');
      } else if (p.final_option_id !== sel) {
        return 'no';
      }
      const task = ctx && ctx.task ? ctx.task(ev.task_id) : undefined;
      if (task && task.reasoning_required) {
        const min = task.reasoning_min_length || 0;
        if (state.submitted === null) v = worst(v, 'maybe');
        else if (state.submitted < min) return 'no';
      }
      return v;
    }
    default:
      return 'no';
  }
}

/** The state after the server accepted `ev`. */
export function apply(state, ev, ctx = {}) {
  const p = ev.payload || {};
  const s = { ...state, excluded: state.excluded.slice() };
  switch (ev.event_type) {
    case 'task_started':
      return { ...s, open: true, taskId: ev.task_id, selected: null, excluded: [], reasoning: false, submitted: -1 };
    case 'option_viewed':
      if (s.open === null) s.open = true;
      if (s.open && !s.taskId) s.taskId = ev.task_id;
      return s;
    case 'option_selected':
      return { ...s, open: true, taskId: s.taskId || ev.task_id, selected: p.option_id, excluded: [] };
    case 'option_changed':
      return { ...s, open: true, taskId: s.taskId || ev.task_id, selected: p.to_option_id, excluded: [] };
    case 'reasoning_started':
    case 'reasoning_updated':
      return { ...s, open: true, taskId: s.taskId || ev.task_id, reasoning: true };
    case 'reasoning_submitted':
      return { ...s, open: true, taskId: s.taskId || ev.task_id, reasoning: false, submitted: p.character_count };
    case 'task_completed': {
      const total = ctx && ctx.totalTasks != null ? ctx.totalTasks : null;
      const index = s.index + 1;
      return {
        index, open: false, taskId: null, selected: null, excluded: [], reasoning: false, submitted: -1,
        finished: total != null && index >= total,
      };
    }
    default:
      return s;
  }
}

/**
 * What the server's refusal of `ev` (code invalid_transition) at `state`
 * teaches about the unknowns. Known facts never change here.
 */
export function learn(state, ev, ctx = {}) {
  const p = ev.payload || {};
  const s = { ...state, excluded: state.excluded.slice() };
  switch (ev.event_type) {
    case 'task_started':
      if (s.open === null) {
        s.open = true;
        s.taskId = ev.task_id;
      }
      break;
    case 'option_viewed':
      if (s.open === null) {
        Object.assign(s, { open: false, taskId: null, selected: null, excluded: [], reasoning: false, submitted: -1 });
      }
      break;
    case 'option_selected':
      if (s.selected === UNKNOWN) s.selected = SOME;
      break;
    case 'option_changed':
      if ((s.selected === UNKNOWN || s.selected === SOME) && !s.excluded.includes(p.from_option_id)) {
        s.excluded.push(p.from_option_id);
      }
      break;
    case 'reasoning_started':
      if (s.reasoning === null) s.reasoning = true;
      break;
    case 'reasoning_updated':
    case 'reasoning_submitted':
      if (s.reasoning === null) s.reasoning = false;
      break;
    default:
      break;
  }
  return narrow(s, ctx);
}

/** SOME with all but one option excluded: that one is selected. */
export function narrow(state, ctx = {}) {
  if (state.selected !== SOME || !state.taskId || !ctx.task) return state;
  const task = ctx.task(state.taskId);
  if (!task || !Array.isArray(task.options)) return state;
  const left = task.options.map((o) => o.id).filter((id) => !state.excluded.includes(id));
  if (left.length === 1) return { ...state, selected: left[0], excluded: [] };
  return state;
}
