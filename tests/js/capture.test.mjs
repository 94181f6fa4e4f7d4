import assert from 'node:assert/strict';
import { test } from 'node:test';

import { IDLE_MS, Tracker } from '../../ingest_server/static/capture.js';
import { Outbox } from '../../ingest_server/static/outbox.js';
import { ctxFor, FakeClock, FakeServer, flush, makeTasks, MemStorage, refState, rng, wire } from './helpers.mjs';

function setup({ tasks = makeTasks(3), serverState, online = true } = {}) {
  const clock = new FakeClock();
  const ob = new Outbox({ storage: new MemStorage(), ns: 'hm.c', ctx: ctxFor(tasks), now: clock.now });
  const server = new FakeServer(tasks, serverState ? { state: serverState } : {});
  const errors = [];
  const origHandle = ob.handleMessage.bind(ob);
  ob.handleMessage = (msg) => {
    if (msg.type === 'error') errors.push(msg);
    return origHandle(msg);
  };
  if (online) wire(ob, server);
  const tr = new Tracker({
    outbox: ob, now: clock.now, setTimer: clock.setTimer, clearTimer: clock.clearTimer,
    taskIdAt: (i) => tasks[i] && tasks[i].id,
  });
  tr.begin();
  return { clock, ob, server, tr, tasks, errors };
}

const types = (server) => server.stored.map((e) => e.event_type);

async function typeText(tr, clock, text, stepMs = 150) {
  for (let i = 1; i <= text.length; i += 1) {
    tr.activity('typing');
    tr.reasoningInput(text.slice(0, i));
    clock.advance(stepMs);
  }
  await flush();
}

test('a plain task produces the seed events with the right payloads', async () => {
  const { clock, tr, server, tasks, errors } = setup();
  tr.showTask(tasks[0], 0);
  clock.advance(2000);
  tr.viewOn('opt_1', 'hover');
  clock.advance(450);
  tr.viewOff('opt_1', 'hover');
  tr.viewOn('opt_2', 'hover');
  clock.advance(100); // too short to count
  tr.viewOff('opt_2', 'hover');
  tr.select('opt_1');
  clock.advance(1500);
  tr.select('opt_2');
  clock.advance(1000);
  await typeText(tr, clock, 'It keeps the customer informed.');
  tr.reasoningLeave();
  clock.advance(500);
  const ok = await tr.next();
  await flush();
  assert.equal(ok, true);
  assert.deepEqual(errors, []);
  const t = types(server);
  assert.deepEqual(t.filter((x) => x !== 'reasoning_updated'), [
    'task_started', 'option_viewed', 'option_selected', 'option_changed', 'reasoning_started',
    'reasoning_submitted', 'task_completed',
  ]);
  const byType = Object.fromEntries(server.stored.map((e) => [e.event_type, e]));
  assert.deepEqual(byType.task_started.payload, { task_index: 0 });
  assert.deepEqual(byType.option_viewed.payload, { option_id: 'opt_1', view_duration_ms: 450 });
  assert.deepEqual(byType.option_selected.payload, { option_id: 'opt_1', is_first_selection: true });
  assert.deepEqual(byType.option_changed.payload, { from_option_id: 'opt_1', to_option_id: 'opt_2', time_since_last_change_ms: 1500 });
  assert.equal(byType.reasoning_started.payload.time_since_task_start_ms, 2000 + 450 + 100 + 1500 + 1000);
  assert.deepEqual(byType.reasoning_submitted.payload, {
    final_text: 'It keeps the customer informed.', word_count: 5, character_count: 31,
  });
  assert.equal(byType.task_completed.payload.final_option_id, 'opt_2');
  const total = 2000 + 450 + 100 + 1500 + 1000 + 31 * 150 + 500;
  assert.equal(byType.task_completed.payload.task_duration_ms, total);
  // timestamps are the capture times, in seq order
  const stamps = server.stored.map((e) => Date.parse(e.client_timestamp));
  assert.deepEqual(stamps, [...stamps].sort((a, b) => a - b));
});

test('reasoning_updated is throttled to about once a second and carries Python counts', async () => {
  const { clock, tr, server, tasks } = setup();
  tr.showTask(tasks[0], 0);
  tr.select('opt_1');
  const text = 'Weil\u00a0es sicherer ist\u3000und 👍 schneller';
  await typeText(tr, clock, text, 100); // 30+ chars over ~3.5 s
  clock.advance(2000); // the trailing update fires once
  await flush();
  const updates = server.stored.filter((e) => e.event_type === 'reasoning_updated');
  const seconds = (text.length * 100) / 1000;
  assert.ok(updates.length >= Math.floor(seconds) - 1 && updates.length <= Math.ceil(seconds) + 1, `${updates.length} updates`);
  const times = updates.map((e) => Date.parse(e.client_timestamp));
  for (let i = 1; i < times.length; i += 1) assert.ok(times[i] - times[i - 1] >= 1000);
  const last = updates.at(-1).payload;
  assert.deepEqual(last, { character_count: [...text].length, word_count: 7 });
});

test('leaving the box submits; editing again starts a revision', async () => {
  const { clock, tr, server, tasks, errors } = setup();
  tr.showTask(tasks[0], 0);
  tr.select('opt_3');
  await typeText(tr, clock, 'First thoughts here, enough.');
  tr.reasoningLeave();
  tr.reasoningLeave(); // a second leave does nothing
  clock.advance(3000);
  await typeText(tr, clock, 'First thoughts here, enough. More.');
  tr.reasoningLeave();
  await tr.next();
  await flush();
  assert.deepEqual(errors, []);
  const t = types(server).filter((x) => x !== 'reasoning_updated');
  assert.deepEqual(t, ['task_started', 'option_selected', 'reasoning_started', 'reasoning_submitted',
    'reasoning_started', 'reasoning_submitted', 'task_completed']);
});

test('Next with reasoning still in progress submits it first', async () => {
  const { clock, tr, server, tasks, errors } = setup();
  tr.showTask(tasks[0], 0);
  tr.select('opt_1');
  await typeText(tr, clock, 'Twenty-odd characters typed.');
  await tr.next();
  await flush();
  assert.deepEqual(errors, []);
  assert.deepEqual(types(server).slice(-2), ['reasoning_submitted', 'task_completed']);
});

test('option views: hover and keyboard focus together count once, and only from 300 ms', async () => {
  const { clock, tr, server, tasks } = setup();
  tr.showTask(tasks[0], 0);
  tr.viewOn('opt_1', 'hover');
  clock.advance(200);
  tr.viewOn('opt_1', 'focus');
  clock.advance(200);
  tr.viewOff('opt_1', 'hover');
  clock.advance(200);
  tr.viewOff('opt_1', 'focus');
  tr.viewOn('opt_2', 'focus');
  clock.advance(299);
  tr.viewOff('opt_2', 'focus');
  await flush();
  const views = server.stored.filter((e) => e.event_type === 'option_viewed');
  assert.deepEqual(views.map((e) => e.payload), [{ option_id: 'opt_1', view_duration_ms: 600 }]);
});

test('idle periods of 30 s or more are reported when they end, never while hidden', async () => {
  const { clock, tr, server, tasks } = setup();
  tr.showTask(tasks[0], 0);
  tr.activity('click');
  clock.advance(29_000);
  tr.activity('pointer_move'); // 29 s: not idle
  clock.advance(45_000);
  tr.activity('key'); // 45 s idle after a pointer move
  clock.advance(20_000);
  tr.visibilityChange(true); // hidden after 20 s: not idle
  clock.advance(120_000); // hidden time is not idle time
  tr.visibilityChange(false);
  clock.advance(31_000);
  tr.visibilityChange(true); // 31 s idle, cut when the page hides
  clock.advance(5_000);
  tr.visibilityChange(false);
  await flush();
  const idles = server.stored.filter((e) => e.event_type === 'idle_detected');
  assert.deepEqual(idles.map((e) => e.payload), [
    { idle_duration_ms: 45_000, last_activity_type: 'pointer_move' },
    { idle_duration_ms: 31_000, last_activity_type: 'focus_gained' },
  ]);
  // the second one comes before the focus_lost that cut it
  const seq = types(server);
  assert.equal(seq[seq.indexOf('idle_detected', seq.indexOf('idle_detected') + 1) + 1], 'focus_lost');
  assert.equal(IDLE_MS, 30_000);
});

test('an idle period that runs into Next is reported before task_completed', async () => {
  const { clock, tr, server, tasks } = setup();
  tr.showTask(tasks[0], 0);
  tr.select('opt_1');
  await typeText(tr, clock, 'A reason with enough characters.');
  tr.reasoningLeave();
  clock.advance(60_000);
  await tr.next();
  await flush();
  assert.deepEqual(types(server).slice(-2), ['idle_detected', 'task_completed']);
});

test('focus: a tab switch is reported once, as tab_switch, even though blur fires too', async () => {
  const { clock, tr, server, tasks } = setup();
  tr.showTask(tasks[0], 0);
  tr.windowBlur();
  clock.advance(20);
  tr.visibilityChange(true);
  clock.advance(5000);
  tr.visibilityChange(false);
  tr.windowFocus();
  // a window blur with the page still visible
  clock.advance(1000);
  tr.windowBlur();
  clock.advance(3000);
  tr.windowFocus();
  // a blink (blur and focus within 150 ms) is nothing
  tr.windowBlur();
  clock.advance(50);
  tr.windowFocus();
  clock.advance(1000);
  await flush();
  const focus = server.stored.filter((e) => e.event_type.startsWith('focus_'));
  assert.deepEqual(focus.map((e) => [e.event_type, e.payload.trigger]), [
    ['focus_lost', 'tab_switch'], ['focus_gained', 'tab_switch'],
    ['focus_lost', 'window_blur'], ['focus_gained', 'window_blur'],
  ]);
  // focus_lost is stamped when the blur happened
  assert.equal(Date.parse(focus[0].client_timestamp), Date.parse(server.stored[0].client_timestamp));
});

test('focus events between tasks wait for the next task id and carry it', async () => {
  const { clock, tr, server, tasks, errors } = setup();
  tr.showTask(tasks[0], 0);
  tr.select('opt_1');
  await typeText(tr, clock, 'Enough characters for this one.');
  await tr.next();
  // the next task is not loaded yet
  const taskIdAt = tr.taskIdAt;
  tr.taskIdAt = () => undefined;
  tr.visibilityChange(true);
  clock.advance(4000);
  tr.visibilityChange(false);
  await flush();
  assert.equal(server.stored.filter((e) => e.event_type.startsWith('focus_')).length, 0);
  tr.taskIdAt = taskIdAt;
  tr.showTask(tasks[1], 1);
  await flush();
  assert.deepEqual(errors, []);
  const tail = server.stored.slice(-3);
  assert.deepEqual(tail.map((e) => [e.event_type, e.task_id]), [
    ['focus_lost', 'task1'], ['focus_gained', 'task1'], ['task_started', 'task1'],
  ]);
});

test('offline: the person keeps answering; everything is sent in order once connected', async () => {
  const { clock, tr, ob, server, tasks, errors } = setup({ online: false });
  tr.showTask(tasks[0], 0);
  tr.select('opt_2');
  await typeText(tr, clock, 'Offline reasoning, long enough.');
  await tr.next();
  assert.equal(server.stored.length, 0);
  assert.ok(ob.pendingCount() > 5);
  assert.equal(ob.state().index, 1);
  wire(ob, server);
  for (let i = 0; i < 20 && ob.pendingCount(); i += 1) await flush(1);
  assert.deepEqual(errors, []);
  assert.equal(server.state.index, 1);
  assert.equal(ob.confirmed().index, 1);
});

test('fuzz: random behaviour over a whole attempt never breaks the transition table', async () => {
  for (let seed = 1; seed <= 25; seed += 1) {
    const rand = rng(seed);
    const tasks = makeTasks(3, { required: seed % 3 !== 0, min: 10 });
    const { clock, tr, ob, server, errors } = setup({ tasks });
    let index = 0;
    tr.showTask(tasks[0], 0);
    let text = '';
    for (let step = 0; step < 400 && index < tasks.length; step += 1) {
      const r = rand();
      const opt = tasks[index].options[Math.floor(rand() * 3)].id;
      if (r < 0.15) tr.select(opt);
      else if (r < 0.25) { tr.viewOn(opt, rand() < 0.5 ? 'hover' : 'focus'); }
      else if (r < 0.35) { tr.viewOff(opt, 'hover'); tr.viewOff(opt, 'focus'); }
      else if (r < 0.55) { text += rand() < 0.2 ? ' ' : String.fromCharCode(97 + Math.floor(rand() * 26)); tr.activity('typing'); tr.reasoningInput(text); }
      else if (r < 0.6) tr.reasoningLeave();
      else if (r < 0.65) tr.windowBlur();
      else if (r < 0.7) tr.windowFocus();
      else if (r < 0.74) tr.visibilityChange(rand() < 0.5);
      else if (r < 0.8) tr.activity('pointer_move');
      else if (r < 0.85 && tr.selected && (!tasks[index].reasoning_required || text.trim().length >= 10)) {
        tr.visibilityChange(false);
        await tr.next();
        index += 1;
        text = '';
        if (index < tasks.length) tr.showTask(tasks[index], index);
      }
      clock.advance(Math.floor(rand() * (rand() < 0.05 ? 40_000 : 900)));
      if (rand() < 0.3) await flush(1);
    }
    for (let i = 0; i < 30 && ob.pendingCount(); i += 1) await flush(1);
    assert.deepEqual(errors, [], `seed ${seed}`);
    assert.deepEqual(server.stored.map((e) => e.seq), server.stored.map((_, i) => i + 1));
    assert.equal(server.state.index, index, `seed ${seed}`);
  }
});

test('a re-issued link: the page learns the open task state from refusals and completes', async () => {
  const tasks = makeTasks(3);
  // The old device had started task 1, chosen opt_2 and begun typing.
  const serverState = { ...refState(), index: 1, open: true, openId: 'task1', selected: 'opt_2', reasoning: true };
  const { clock, tr, ob, server, errors } = setup({ tasks, serverState, online: false });
  for (let i = 0; i < 12; i += 1) server.stored.push({ seq: i + 1 });
  ob.onStarted({ sessionKey: 'new', resumedFrom: 12, currentTaskIndex: 1, totalTasks: 3 });
  wire(ob, server);
  tr.showTask(tasks[1], 1);
  await flush(10);
  tr.select('opt_3');
  await flush(20);
  await typeText(tr, clock, 'Picking up on the new device.');
  tr.reasoningLeave();
  await flush(20);
  const ok = await tr.next();
  await flush(20);
  assert.equal(ok, true);
  assert.equal(server.state.index, 2, 'task 1 completed on the server');
  const stored = server.stored.slice(12);
  const done = stored.find((e) => e.event_type === 'task_completed');
  assert.equal(done.payload.final_option_id, 'opt_3');
  assert.ok(stored.some((e) => e.event_type === 'option_changed' && e.payload.from_option_id === 'opt_2'));
  assert.ok(errors.every((e) => e.code === 'invalid_transition'), JSON.stringify(errors));
  assert.equal(ob.uncertain(), false);
});

test('a focus_lost left by closing the page is paired with focus_gained when it is opened again', async () => {
  const { clock, tr, ob, server, tasks, errors } = setup();
  const lost = [];
  tr.onFocusChange = (trigger) => lost.push(trigger);
  tr.showTask(tasks[0], 0);
  tr.visibilityChange(true); // the tab is closed or reloaded
  assert.deepEqual(lost, ['tab_switch']);
  clock.advance(60_000);
  // a new page on the same device
  const again = new Tracker({
    outbox: ob, now: clock.now, setTimer: clock.setTimer, clearTimer: clock.clearTimer,
    taskIdAt: (i) => tasks[i] && tasks[i].id, onFocusChange: (t) => lost.push(t),
  });
  again.begin();
  again.restoreLost('tab_switch', true);
  again.showTask(tasks[0], 0, {});
  await flush();
  assert.deepEqual(errors, []);
  assert.deepEqual(lost, ['tab_switch', null]);
  const focus = server.stored.filter((e) => e.event_type.startsWith('focus_'));
  assert.deepEqual(focus.map((e) => [e.event_type, e.payload.trigger, e.task_id]), [
    ['focus_lost', 'tab_switch', 'task0'], ['focus_gained', 'tab_switch', 'task0'],
  ]);
  assert.equal(Date.parse(focus[1].client_timestamp) - Date.parse(focus[0].client_timestamp), 60_000);
  assert.equal(types(server).filter((t) => t === 'task_started').length, 1, 'no second task_started');
});

test('a refused task_completed brings the task back, and completing it again works', async () => {
  const { clock, tr, ob, server, tasks, errors } = setup();
  tr.showTask(tasks[0], 0);
  tr.select('opt_2');
  await typeText(tr, clock, 'A reason that is long enough.');
  tr.reasoningLeave();
  await flush();
  server.rejectNext = { seq: server.lastSeq + 1, code: 'invalid_payload' };
  const ok = await tr.next();
  assert.equal(ok, true, 'optimistic while the state is certain');
  // the next task is shown and started before the refusal arrives
  tr.showTask(tasks[1], 1);
  await flush(10);
  assert.deepEqual(errors.map((e) => e.code), ['invalid_payload']);
  assert.equal(ob.state().index, 0, 'back to task 0');
  assert.equal(ob.state().open, true);
  assert.equal(ob.pendingCount(), 0, 'task 1 events were pruned, not sent');
  tr.showTask(tasks[0], 0, { selected: 'opt_2', text: 'A reason that is long enough.' });
  clock.advance(2000);
  assert.equal(await tr.next(), true);
  await flush(10);
  assert.equal(server.state.index, 1);
  assert.equal(errors.length, 1);
  assert.equal(types(server).filter((t) => t === 'task_started').length, 1);
});
