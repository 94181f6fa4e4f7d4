// Issue 15: keyboard users measured like everyone else, waiting on the page
// not counted against the candidate, and the assistive-technology accommodation.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { KEY_COMMIT_MS, Tracker } from '../../ingest_server/static/capture.js';
import { Outbox } from '../../ingest_server/static/outbox.js';
import { ctxFor, FakeClock, FakeServer, flush, makeTasks, MemStorage, wire } from './helpers.mjs';

function fourOptionTasks(n = 2) {
  return makeTasks(n).map((t) => ({
    ...t, options: [...t.options, { id: 'opt_4', text: 'Four' }],
  }));
}

function setup({ tasks = fourOptionTasks(), assistive = false } = {}) {
  const clock = new FakeClock();
  const ob = new Outbox({ storage: new MemStorage(), ns: 'hm.k', ctx: ctxFor(tasks), now: clock.now });
  const server = new FakeServer(tasks);
  const errors = [];
  const orig = ob.handleMessage.bind(ob);
  ob.handleMessage = (msg) => {
    if (msg.type === 'error') errors.push(msg);
    return orig(msg);
  };
  wire(ob, server);
  const tr = new Tracker({
    outbox: ob, now: clock.now, setTimer: clock.setTimer, clearTimer: clock.clearTimer,
    taskIdAt: (i) => tasks[i] && tasks[i].id, assistive,
  });
  tr.begin();
  return { clock, ob, server, tr, tasks, errors };
}

const ofType = (server, type) => server.stored.filter((e) => e.event_type === type);
const types = (server) => server.stored.map((e) => e.event_type);
const at = (e) => Date.parse(e.client_timestamp);

/** What app.js does for one arrow key on a native radio group: focus moves, then the radio is checked. */
function arrow(tr, from, to) {
  tr.viewOff(from, 'focus');
  tr.viewOn(to, 'focus', { keyed: true });
  tr.select(to, 'keyboard');
}

test('the keyboard walk: Space on the first, three arrows 120 ms apart, keep the last', async () => {
  const { clock, tr, server, tasks, errors } = setup();
  tr.showTask(tasks[0], 0);
  const t0 = clock.now();
  tr.viewOn('opt_1', 'focus', { keyed: true }); // Tab into the group
  clock.advance(500);
  tr.select('opt_1', 'keyboard'); // Space
  clock.advance(120);
  arrow(tr, 'opt_1', 'opt_2');
  clock.advance(120);
  arrow(tr, 'opt_2', 'opt_3');
  clock.advance(120);
  arrow(tr, 'opt_3', 'opt_4');
  const lastArrow = clock.now();
  await flush();
  assert.equal(ofType(server, 'option_selected').length, 0, 'nothing committed while settling');
  clock.advance(KEY_COMMIT_MS + 200); // kept
  clock.advance(500);
  tr.viewOff('opt_4', 'focus'); // Tab on to the reasoning box
  await flush();
  assert.deepEqual(errors, []);
  assert.equal(ofType(server, 'option_changed').length, 0);
  const selected = ofType(server, 'option_selected');
  assert.equal(selected.length, 1);
  assert.deepEqual(selected[0].payload, { option_id: 'opt_4', is_first_selection: true, input: 'keyboard' });
  assert.equal(at(selected[0]), lastArrow, 'stamped when the selection was made');
  const views = ofType(server, 'option_viewed');
  assert.ok(views.length >= 3, `${views.length} views`);
  assert.deepEqual(views.map((e) => [e.payload.option_id, e.payload.view_duration_ms]), [
    ['opt_1', 620], ['opt_2', 120], ['opt_3', 120], ['opt_4', 1500],
  ]);
  // Client timestamps stay in seq order although the selection was committed later.
  const stamps = server.stored.map(at);
  assert.deepEqual(stamps, [...stamps].sort((a, b) => a - b));
  assert.ok(stamps[0] >= t0);
});

test('a keyboard change that stays 800 ms is an option_changed stamped when made', async () => {
  const { clock, tr, server, tasks, errors } = setup();
  tr.showTask(tasks[0], 0);
  tr.select('opt_1', 'pointer');
  clock.advance(5000);
  arrow(tr, 'opt_1', 'opt_2');
  const made = clock.now();
  clock.advance(KEY_COMMIT_MS - 1);
  await flush();
  assert.equal(ofType(server, 'option_changed').length, 0);
  clock.advance(1);
  await flush();
  assert.deepEqual(errors, []);
  const [changed] = ofType(server, 'option_changed');
  assert.deepEqual(changed.payload, {
    from_option_id: 'opt_1', to_option_id: 'opt_2', time_since_last_change_ms: 5000, input: 'keyboard',
  });
  assert.equal(at(changed), made);
  assert.deepEqual(ofType(server, 'option_selected')[0].payload,
    { option_id: 'opt_1', is_first_selection: true, input: 'pointer' });
});

test('pointer and touch selections commit at once and say so', async () => {
  const { clock, tr, server, tasks } = setup();
  tr.showTask(tasks[0], 0);
  tr.select('opt_1', 'touch');
  clock.advance(100);
  tr.select('opt_3', 'pointer');
  await flush();
  assert.deepEqual(ofType(server, 'option_selected')[0].payload.input, 'touch');
  assert.deepEqual(ofType(server, 'option_changed')[0].payload,
    { from_option_id: 'opt_1', to_option_id: 'opt_3', time_since_last_change_ms: 100, input: 'pointer' });
});

test('a selection of unknown origin is sent as before, without input', async () => {
  const { tr, server, tasks } = setup();
  tr.showTask(tasks[0], 0);
  tr.select('opt_2');
  await flush();
  assert.deepEqual(ofType(server, 'option_selected')[0].payload, { option_id: 'opt_2', is_first_selection: true });
});

test('focus leaving the group commits a settling keyboard selection at once', async () => {
  const { clock, tr, server, tasks } = setup();
  tr.showTask(tasks[0], 0);
  tr.viewOn('opt_1', 'focus', { keyed: true });
  tr.select('opt_1', 'keyboard');
  clock.advance(120);
  arrow(tr, 'opt_1', 'opt_2');
  const made = clock.now();
  clock.advance(100);
  tr.viewOff('opt_2', 'focus');
  tr.commitSelection(); // app.js: focusout with the focus outside the group
  await flush();
  const [sel] = ofType(server, 'option_selected');
  assert.equal(sel.payload.option_id, 'opt_2');
  assert.equal(at(sel), made);
  clock.advance(5000);
  await flush();
  assert.equal(ofType(server, 'option_selected').length + ofType(server, 'option_changed').length, 1);
});

test('typing commits a settling keyboard selection before the reasoning events', async () => {
  const { clock, tr, server, tasks, errors } = setup();
  tr.showTask(tasks[0], 0);
  tr.select('opt_3', 'keyboard');
  clock.advance(200);
  tr.activity('typing');
  tr.reasoningInput('B');
  await flush();
  assert.deepEqual(errors, []);
  assert.deepEqual(types(server).slice(0, 3), ['task_started', 'option_selected', 'reasoning_started']);
  assert.equal(ofType(server, 'option_selected')[0].payload.option_id, 'opt_3');
});

test('Next commits a settling keyboard selection first', async () => {
  const { clock, tr, server, tasks, errors } = setup();
  tr.showTask(tasks[0], 0);
  tr.select('opt_1', 'pointer');
  tr.reasoningInput('Enough characters to pass the minimum.');
  clock.advance(2000);
  tr.select('opt_2', 'keyboard');
  const made = clock.now();
  clock.advance(150);
  assert.equal(await tr.next(), true);
  await flush();
  assert.deepEqual(errors, []);
  const changed = ofType(server, 'option_changed');
  assert.equal(changed.length, 1);
  assert.equal(at(changed[0]), made);
  assert.equal(changed[0].payload.input, 'keyboard');
  assert.equal(ofType(server, 'task_completed')[0].payload.final_option_id, 'opt_2');
});

test('arrowing away and back to the chosen option within 800 ms changes nothing', async () => {
  const { clock, tr, server, tasks } = setup();
  tr.showTask(tasks[0], 0);
  tr.select('opt_2', 'pointer');
  clock.advance(3000);
  arrow(tr, 'opt_2', 'opt_3');
  clock.advance(150);
  arrow(tr, 'opt_3', 'opt_2');
  clock.advance(2000);
  await flush();
  assert.equal(ofType(server, 'option_changed').length, 0);
  assert.equal(tr.selected, 'opt_2');
});

test('a click replaces a keyboard selection that had not settled', async () => {
  const { clock, tr, server, tasks } = setup();
  tr.showTask(tasks[0], 0);
  tr.select('opt_1', 'pointer');
  clock.advance(1000);
  tr.select('opt_2', 'keyboard');
  clock.advance(300);
  tr.select('opt_4', 'pointer');
  clock.advance(2000);
  await flush();
  assert.deepEqual(ofType(server, 'option_changed').map((e) => [e.payload.from_option_id, e.payload.to_option_id, e.payload.input]),
    [['opt_1', 'opt_4', 'pointer']]);
});

test('keyed views count from 50 ms; a pointer passing over still needs 300 ms', async () => {
  const { clock, tr, server, tasks } = setup();
  tr.showTask(tasks[0], 0);
  tr.viewOn('opt_1', 'focus', { keyed: true });
  clock.advance(49);
  tr.viewOff('opt_1', 'focus'); // auto-repeat speed: not a view
  tr.viewOn('opt_2', 'focus', { keyed: true });
  clock.advance(60);
  tr.viewOff('opt_2', 'focus');
  tr.viewOn('opt_3', 'hover');
  clock.advance(120);
  tr.viewOff('opt_3', 'hover');
  tr.viewOn('opt_4', 'focus'); // focus from a click
  clock.advance(120);
  tr.viewOff('opt_4', 'focus');
  await flush();
  assert.deepEqual(ofType(server, 'option_viewed').map((e) => e.payload), [{ option_id: 'opt_2', view_duration_ms: 60 }]);
});

// ------------------------------------------------------------------ waiting

async function completeFirstTask(tr, clock) {
  tr.select('opt_1', 'pointer');
  tr.reasoningInput('Enough characters to pass the minimum.');
  clock.advance(1000);
  await tr.next();
  await flush();
}

test('waiting for the next task: a network_wait, no idle, and the idle clock restarts', async () => {
  const { clock, tr, server, tasks, errors } = setup();
  tr.showTask(tasks[0], 0);
  await completeFirstTask(tr, clock);
  tr.activity('click');
  clock.advance(20_000); // 20 s without input before the wait begins
  tr.setWaiting('next_task');
  clock.advance(36_000); // a silently dropped connection
  tr.activity('pointer_move'); // moving the mouse while waiting
  clock.advance(19_000);
  const end = clock.now();
  tr.setWaiting(null);
  tr.showTask(tasks[1], 1);
  clock.advance(25_000); // reading the new task: 25 s, not idle
  tr.activity('key');
  await flush();
  assert.deepEqual(errors, []);
  assert.equal(ofType(server, 'idle_detected').length, 0);
  const [wait] = ofType(server, 'network_wait');
  assert.deepEqual(wait.payload, { wait_duration_ms: 55_000, reason: 'next_task' });
  assert.equal(at(wait), end, 'stamped when the wait ended');
  assert.equal(wait.task_id, 'task1');
  assert.deepEqual(types(server).slice(-2), ['network_wait', 'task_started']);
});

test('an idle period before the wait is still reported; a wait under 1 s is not', async () => {
  const { clock, tr, server, tasks } = setup();
  tr.showTask(tasks[0], 0);
  tr.activity('click');
  clock.advance(40_000);
  tr.setWaiting('queue_full');
  clock.advance(999);
  tr.setWaiting(null);
  await flush();
  assert.deepEqual(ofType(server, 'idle_detected').map((e) => e.payload.idle_duration_ms), [40_000]);
  assert.equal(ofType(server, 'network_wait').length, 0);
});

test('the reason reported is the one that held when the wait ended', async () => {
  const { clock, tr, server, tasks } = setup();
  tr.showTask(tasks[0], 0);
  tr.setWaiting('queue_full');
  clock.advance(2000);
  tr.setWaiting('reconnecting');
  clock.advance(3000);
  tr.setWaiting(null);
  await flush();
  assert.deepEqual(ofType(server, 'network_wait').map((e) => e.payload), [{ wait_duration_ms: 5000, reason: 'reconnecting' }]);
  assert.equal(ofType(server, 'network_wait')[0].task_id, 'task0', 'on the open task');
});

test('leaving during a wait: away only from the end of the wait', async () => {
  const { clock, tr, server, tasks, errors } = setup();
  tr.showTask(tasks[0], 0);
  tr.setWaiting('reconnecting');
  clock.advance(1000);
  tr.visibilityChange(true); // off to another tab while the page is stuck
  clock.advance(4000);
  tr.visibilityChange(false); // back before it recovered: nothing
  tr.windowFocus();
  clock.advance(1000);
  tr.visibilityChange(true); // away again, and still away when it recovers
  clock.advance(2000);
  const end = clock.now();
  tr.setWaiting(null);
  clock.advance(10_000);
  tr.visibilityChange(false);
  await flush();
  assert.deepEqual(errors, []);
  const focus = server.stored.filter((e) => e.event_type.startsWith('focus_'));
  assert.deepEqual(focus.map((e) => [e.event_type, at(e) - end]), [['focus_lost', 0], ['focus_gained', 10_000]]);
  assert.deepEqual(types(server).filter((t) => t !== 'task_started'), ['network_wait', 'focus_lost', 'focus_gained']);
});

// ------------------------------------------------------------------ assistive technology

test('assistive technology: no idle, focus_lost or focus_gained; choices are still recorded', async () => {
  const { clock, tr, server, tasks, errors } = setup({ assistive: true });
  tr.showTask(tasks[0], 0);
  clock.advance(40_000); // listening to a screen reader: no input for 40 s
  tr.activity('key');
  tr.visibilityChange(true);
  clock.advance(5000);
  tr.visibilityChange(false);
  tr.windowBlur();
  clock.advance(3000);
  tr.windowFocus();
  tr.select('opt_2', 'keyboard');
  clock.advance(KEY_COMMIT_MS);
  await completeFirstTask(tr, clock);
  await flush();
  assert.deepEqual(errors, []);
  assert.deepEqual(types(server).filter((t) => t !== 'reasoning_updated'),
    ['task_started', 'option_selected', 'option_changed', 'reasoning_started', 'reasoning_submitted', 'task_completed']);
});

test('assistive technology: waits are still reported (they are the page\'s, not the person\'s)', async () => {
  const { clock, tr, server, tasks } = setup({ assistive: true });
  tr.showTask(tasks[0], 0);
  tr.setWaiting('queue_full');
  clock.advance(3000);
  tr.setWaiting(null);
  await flush();
  assert.equal(ofType(server, 'network_wait').length, 1);
});
