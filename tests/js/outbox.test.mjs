import assert from 'node:assert/strict';
import { test } from 'node:test';

import { MAX_BATCH_BYTES, Outbox } from '../../ingest_server/static/outbox.js';
import { ctxFor, FakeClock, FakeServer, flush, makeTasks, MemStorage, refState, wire } from './helpers.mjs';

const TASKS = makeTasks(3);
const T0 = TASKS[0].id;

function ev(type, payload, taskId = T0) {
  return { task_id: taskId, event_type: type, payload, client_timestamp: '2026-11-25T18:00:00.000Z' };
}

function started(ob, index = 0) {
  return ob.enqueue(ev('task_started', { task_index: index }, TASKS[index].id));
}

function newOutbox(extra = {}) {
  const clock = new FakeClock();
  const storage = extra.storage || new MemStorage();
  const ob = new Outbox({ storage, ns: 'hm.t', ctx: ctxFor(TASKS), now: clock.now, ...extra });
  return { ob, storage, clock };
}

function capture(ob) {
  const frames = [];
  ob.attach((text) => frames.push(JSON.parse(text)));
  return frames;
}

test('events get consecutive seqs; one in flight at a time; the rest leave as a batch', () => {
  const { ob } = newOutbox();
  const frames = capture(ob);
  started(ob);
  assert.equal(frames.length, 1);
  const first = frames[0];
  assert.equal(first.type, 'event');
  assert.equal(first.seq, 1);
  assert.equal(first.event_type, 'task_started');
  assert.deepEqual(first.payload, { task_index: 0 });
  assert.ok(first.client_timestamp && first.sent_at);

  ob.enqueue(ev('option_viewed', { option_id: 'opt_1', view_duration_ms: 450 }));
  ob.enqueue(ev('option_selected', { option_id: 'opt_1', is_first_selection: true }));
  assert.equal(frames.length, 1, 'nothing more while seq 1 waits for its ack');

  ob.handleMessage({ type: 'ack', seq: 1, event_id: 'x' });
  assert.equal(frames.length, 2);
  const batch = frames[1];
  assert.equal(batch.type, 'batch');
  assert.ok(batch.sent_at);
  assert.deepEqual(batch.events.map((e) => e.seq), [2, 3]);
  for (const e of batch.events) {
    assert.equal(e.type, undefined, 'events in a batch carry no type');
    assert.equal(e.sent_at, undefined);
    assert.ok(e.client_timestamp);
  }
  ob.handleMessage({ type: 'ack', seqs: [2, 3], event_ids: ['a', 'b'] });
  assert.equal(ob.pendingCount(), 0);
  assert.equal(ob.lastAcked, 3);
  assert.equal(ob.confirmed().selected, 'opt_1');
});

test('client_timestamp is kept from capture, sent_at is set at send time', () => {
  const { ob, clock } = newOutbox();
  started(ob);
  clock.advance(60_000);
  const frames = capture(ob);
  assert.equal(frames[0].client_timestamp, '2026-11-25T18:00:00.000Z');
  assert.equal(frames[0].sent_at, '2026-11-25T18:01:00.000Z');
});

test('unacknowledged events survive a reload; acknowledged ones are gone', () => {
  const storage = new MemStorage();
  const a = newOutbox({ storage }).ob;
  a.setSessionKey('secret-key');
  const frames = capture(a);
  started(a);
  a.enqueue(ev('option_selected', { option_id: 'opt_2', is_first_selection: true }));
  a.enqueue(ev('focus_lost', { trigger: 'tab_switch' }));
  a.handleMessage({ type: 'ack', seq: 1 });
  assert.equal(frames.length, 2);
  // The tab closes with seqs 2 and 3 unacknowledged.
  const b = newOutbox({ storage }).ob;
  assert.equal(b.load(), true);
  assert.equal(b.sessionKey, 'secret-key');
  assert.equal(b.lastAcked, 1);
  assert.deepEqual(b.queue.map((e) => e.event_type), ['option_selected', 'focus_lost']);
  assert.equal(b.state().selected, 'opt_2');
  assert.equal(b.confirmed().open, true);
  // resume: the server had stored seq 2 already (its ack was lost).
  b.onResumed({ lastSequenceNumber: 2, currentTaskIndex: 0 });
  const resent = capture(b);
  assert.equal(resent.length, 1);
  assert.equal(resent[0].type, 'event');
  assert.equal(resent[0].seq, 3);
  assert.equal(resent[0].event_type, 'focus_lost');
});

test('a rejected event is dropped and the ones after it are renumbered', () => {
  const { ob } = newOutbox();
  started(ob);
  ob.enqueue(ev('option_viewed', { option_id: 'opt_1', view_duration_ms: 400 }));
  ob.enqueue(ev('option_viewed', { option_id: 'opt_9', view_duration_ms: 400 }));
  ob.enqueue(ev('focus_lost', { trigger: 'window_blur' }));
  const frames = capture(ob);
  assert.deepEqual(frames[0].events.map((e) => e.seq), [1, 2, 3, 4]);
  // The server stores 1-2, rejects 3: a rejected seq is not used up.
  ob.handleMessage({ type: 'ack', seqs: [1, 2] });
  assert.equal(frames.length, 1, 'still waiting for the rest of the batch');
  ob.handleMessage({ type: 'error', seq: 3, code: 'unknown_option', message: 'no such option' });
  assert.equal(frames.length, 2);
  assert.equal(frames[1].type, 'event');
  assert.equal(frames[1].seq, 3);
  assert.equal(frames[1].event_type, 'focus_lost');
  assert.equal(ob.nextSeq(), 4);
});

test('an error for seq n in a batch means the ones before it are stored', () => {
  const { ob } = newOutbox();
  started(ob);
  ob.enqueue(ev('option_viewed', { option_id: 'opt_1', view_duration_ms: 400 }));
  ob.enqueue(ev('option_viewed', { option_id: 'opt_2', view_duration_ms: 400 }));
  const frames = capture(ob);
  ob.handleMessage({ type: 'error', seq: 3, code: 'invalid_payload' });
  assert.equal(ob.lastAcked, 2);
  assert.equal(ob.pendingCount(), 0);
  assert.equal(frames.length, 1);
});

test('a rejection prunes unsent events that depended on it', () => {
  const { ob } = newOutbox();
  const frames = capture(ob);
  started(ob);
  ob.handleMessage({ type: 'ack', seq: 1 });
  ob.enqueue(ev('option_selected', { option_id: 'opt_1', is_first_selection: true }));
  ob.enqueue(ev('option_changed', { from_option_id: 'opt_1', to_option_id: 'opt_2', time_since_last_change_ms: 5 }));
  ob.enqueue(ev('focus_lost', { trigger: 'tab_switch' }));
  assert.equal(frames.length, 2); // seq 2 alone in flight
  ob.handleMessage({ type: 'error', seq: 2, code: 'invalid_transition' });
  // option_changed from opt_1 can no longer be valid: dropped, not sent.
  assert.deepEqual(ob.queue.map((e) => e.event_type), ['focus_lost']);
  assert.equal(frames.at(-1).seq, 2);
  assert.equal(frames.at(-1).event_type, 'focus_lost');
  assert.equal(ob.state().selected, null);
});

test('word_count_mismatch: re-sent with the expected count, same seq', () => {
  const { ob } = newOutbox();
  const frames = capture(ob);
  started(ob);
  ob.handleMessage({ type: 'ack', seq: 1 });
  ob.enqueue(ev('reasoning_started', { time_since_task_start_ms: 10 }));
  ob.handleMessage({ type: 'ack', seq: 2 });
  ob.enqueue(ev('reasoning_submitted', { final_text: 'a b c', word_count: 7, character_count: 5 }));
  ob.handleMessage({ type: 'error', seq: 3, code: 'word_count_mismatch', expected: 3 });
  const last = frames.at(-1);
  assert.equal(last.seq, 3);
  assert.equal(last.payload.word_count, 3);
  ob.handleMessage({ type: 'ack', seq: 3 });
  assert.equal(ob.pendingCount(), 0);
});

test('sequence_gap: renumber from expected and send again', () => {
  const { ob } = newOutbox();
  ob.onStarted({ sessionKey: 'k', resumedFrom: null, currentTaskIndex: 0, totalTasks: 3 });
  ob.lastAcked = 5; // pretend the page believed five were stored
  const frames = capture(ob);
  started(ob);
  assert.equal(frames[0].seq, 6);
  ob.handleMessage({ type: 'error', seq: 6, code: 'sequence_gap', expected: 1 });
  assert.equal(frames.at(-1).seq, 1);
  assert.equal(frames.at(-1).event_type, 'task_started');
});

test('duplicate acks are harmless', () => {
  const { ob } = newOutbox();
  const frames = capture(ob);
  started(ob);
  ob.handleMessage({ type: 'ack', seq: 1, event_id: 'x', duplicate: true });
  ob.handleMessage({ type: 'ack', seq: 1, event_id: 'x', duplicate: true });
  assert.equal(ob.lastAcked, 1);
  assert.equal(ob.pendingCount(), 0);
  assert.equal(frames.length, 1);
});

test('rate_limited: nothing dropped, the same seqs are sent again later', async () => {
  const { ob, clock } = newOutbox();
  const frames = capture(ob);
  started(ob);
  ob.handleMessage({ type: 'error', seq: 1, code: 'rate_limited' });
  assert.equal(frames.length, 1);
  assert.equal(ob.pendingCount(), 1);
  // real timer inside the outbox: wait it out
  clock.t += 1500;
  await new Promise((r) => setTimeout(r, 1100));
  assert.equal(frames.length, 2);
  assert.equal(frames[1].seq, 1);
});

test('duration_out_of_range on task_completed: clamped once and re-sent', () => {
  const { ob } = newOutbox();
  const frames = capture(ob);
  started(ob);
  ob.handleMessage({ type: 'ack', seq: 1 });
  ob.enqueue(ev('option_selected', { option_id: 'opt_1', is_first_selection: true }));
  ob.handleMessage({ type: 'ack', seq: 2 });
  ob.enqueue(ev('reasoning_started', { time_since_task_start_ms: 1 }));
  ob.enqueue(ev('reasoning_submitted', { final_text: 'x'.repeat(25), word_count: 1, character_count: 25 }));
  ob.handleMessage({ type: 'ack', seqs: [3, 4] });
  ob.enqueue(ev('task_completed', { final_option_id: 'opt_1', task_duration_ms: 2_500_000 }));
  ob.handleMessage({ type: 'error', seq: 5, code: 'duration_out_of_range' });
  assert.equal(frames.at(-1).seq, 5);
  assert.equal(frames.at(-1).payload.task_duration_ms, 1_799_999);
});

test('batches stay at or under 500 events and under 48 KiB', async () => {
  const { ob } = newOutbox({ maxEvents: 100_000, maxBytes: 100_000_000 });
  const server = new FakeServer(TASKS);
  started(ob);
  for (let i = 0; i < 1300; i += 1) ob.enqueue(ev('option_viewed', { option_id: 'opt_1', view_duration_ms: 300 + i }));
  ob.enqueue(ev('reasoning_started', { time_since_task_start_ms: 1 }));
  for (let i = 0; i < 40; i += 1) {
    const text = '中'.repeat(3000 + i);
    ob.enqueue(ev('reasoning_submitted', { final_text: text, word_count: 1, character_count: 3000 + i }));
    ob.enqueue(ev('reasoning_started', { time_since_task_start_ms: 1 }));
  }
  wire(ob, server);
  for (let i = 0; i < 200 && ob.pendingCount(); i += 1) await flush(1);
  assert.equal(ob.pendingCount(), 0);
  assert.equal(server.stored.length, 1 + 1300 + 1 + 80);
  assert.deepEqual(server.stored.map((e) => e.seq), server.stored.map((_, i) => i + 1));
  for (const msg of server.sent) {
    const bytes = Buffer.byteLength(JSON.stringify(msg));
    assert.ok(bytes < 48 * 1024, `frame of ${bytes} bytes`);
    if (msg.type === 'batch') assert.ok(msg.events.length <= 500 && msg.events.length >= 2);
  }
  // The byte limit is what binds for events of this size: batches come close to it.
  assert.ok(server.sent.some((m) => m.type === 'batch' && Buffer.byteLength(JSON.stringify(m)) > MAX_BATCH_BYTES - 4096));
  assert.ok(MAX_BATCH_BYTES < 48 * 1024);
});

test('the event-count limit of a batch holds too', async () => {
  const { ob } = newOutbox({ batchMaxEvents: 10 });
  const server = new FakeServer(TASKS);
  started(ob);
  for (let i = 0; i < 95; i += 1) ob.enqueue(ev('option_viewed', { option_id: 'opt_2', view_duration_ms: 300 }));
  wire(ob, server);
  for (let i = 0; i < 50 && ob.pendingCount(); i += 1) await flush(1);
  assert.equal(server.stored.length, 96);
  assert.deepEqual(server.sent.map((m) => (m.type === 'batch' ? m.events.length : 1)), [10, 10, 10, 10, 10, 10, 10, 10, 10, 6]);
});

test('a full queue keeps every event and says so; it drains below the low mark', () => {
  const { ob } = newOutbox({ maxEvents: 50 });
  const signals = [];
  ob.onFullChange((full) => signals.push(full));
  const frames = capture(ob);
  started(ob);
  for (let i = 0; i < 60; i += 1) ob.enqueue(ev('option_viewed', { option_id: 'opt_1', view_duration_ms: 300 + i }));
  // Meta events are still taken while full (the page pauses everything else).
  assert.ok(ob.enqueue(ev('focus_lost', { trigger: 'tab_switch' })));
  assert.equal(ob.pendingCount(), 62, 'nothing evicted');
  assert.deepEqual(signals, [true]);
  assert.equal(ob.isFull(), true);
  assert.deepEqual(ob.queue.slice(1, 61).map((e) => e.payload.view_duration_ms),
    Array.from({ length: 60 }, (_, i) => 300 + i), 'oldest views kept, in order');
  // Acks bring it down: still full at 40 (the low mark is 80% of 50), free below.
  ob.handleMessage({ type: 'ack', seq: 1 });
  ob.handleMessage({ type: 'ack', seqs: [frames.at(-1).events.at(-1).seq] }); // acks are cumulative
  assert.equal(ob.pendingCount(), 0);
  assert.deepEqual(signals, [true, false]);
  assert.equal(ob.isFull(), false);
});

test('the low mark: full at the cap, free again only under 80% of it', () => {
  const { ob } = newOutbox({ maxEvents: 10 });
  const signals = [];
  ob.onFullChange((full) => signals.push(full));
  const frames = capture(ob);
  ob.batchMaxEvents = 2;
  started(ob);
  for (let i = 0; i < 9; i += 1) ob.enqueue(ev('option_viewed', { option_id: 'opt_1', view_duration_ms: 300 + i }));
  assert.deepEqual(signals, [true]);
  ob.handleMessage({ type: 'ack', seq: 1 }); // 9 left: not below 8
  assert.deepEqual(signals, [true]);
  ob.handleMessage({ type: 'ack', seqs: frames.at(-1).events.map((e) => e.seq) }); // 7 left
  assert.deepEqual(signals, [true, false]);
});

test('maxEvents can be lowered on a running outbox and takes effect at once', () => {
  const { ob } = newOutbox();
  const signals = [];
  ob.onFullChange((full) => signals.push(full));
  started(ob);
  for (let i = 0; i < 25; i += 1) ob.enqueue(ev('option_viewed', { option_id: 'opt_1', view_duration_ms: 300 + i }));
  assert.equal(ob.isFull(), false);
  ob.maxEvents = 20;
  assert.deepEqual(signals, [true]);
  assert.equal(ob.pendingCount(), 26);
  ob.maxEvents = 5000;
  assert.deepEqual(signals, [true, false]);
});

test('a page reloaded with a full queue starts full, with every event', () => {
  const storage = new MemStorage();
  const a = newOutbox({ storage, maxEvents: 10 }).ob;
  a.setSessionKey('k');
  started(a);
  for (let i = 0; i < 14; i += 1) a.enqueue(ev('option_viewed', { option_id: 'opt_1', view_duration_ms: 300 + i }));
  const b = newOutbox({ storage, maxEvents: 10 }).ob;
  const signals = [];
  b.onFullChange((full) => signals.push(full));
  b.load();
  assert.equal(b.pendingCount(), 15);
  assert.deepEqual(signals, [true]);
});

test('a byte cap fills the queue the same way', () => {
  const { ob } = newOutbox({ maxBytes: 4000 });
  started(ob);
  ob.enqueue(ev('reasoning_started', { time_since_task_start_ms: 1 }));
  for (let i = 0; i < 100 && !ob.isFull(); i += 1) ob.enqueue(ev('reasoning_updated', { character_count: i, word_count: 1 }));
  assert.equal(ob.isFull(), true);
  assert.ok(ob.queueBytes >= 4000);
});

test('the rules guard: events the table forbids are never queued', () => {
  const { ob } = newOutbox();
  assert.equal(ob.enqueue(ev('option_selected', { option_id: 'opt_1', is_first_selection: true })), null);
  started(ob);
  assert.equal(ob.enqueue(ev('task_started', { task_index: 0 })), null, 'already open');
  assert.equal(ob.enqueue(ev('reasoning_updated', { character_count: 1, word_count: 1 })), null, 'not in progress');
  assert.equal(ob.enqueue(ev('option_changed', { from_option_id: 'opt_1', to_option_id: 'opt_2', time_since_last_change_ms: 1 })), null);
  assert.equal(ob.enqueue(ev('task_completed', { final_option_id: 'opt_1', task_duration_ms: 1 })), null);
  assert.equal(ob.enqueue(ev('focus_lost', { trigger: 'tab_switch' }, TASKS[1].id)), null, 'wrong task');
  assert.ok(ob.enqueue(ev('focus_lost', { trigger: 'tab_switch' })));
});

test('started with resumed_from (a re-issued link): numbering continues after n', () => {
  const { ob } = newOutbox();
  ob.onStarted({ sessionKey: 'k2', resumedFrom: 41, currentTaskIndex: 2, totalTasks: 3 });
  const frames = capture(ob);
  ob.enqueue(ev('task_started', { task_index: 2 }, TASKS[2].id));
  assert.equal(frames[0].seq, 42);
  assert.equal(ob.state().open, true);
});

test('a storage that refuses writes does not stop the outbox', () => {
  const storage = new MemStorage();
  storage.failWrites = true;
  const { ob } = newOutbox({ storage });
  const frames = capture(ob);
  started(ob);
  assert.equal(frames.length, 1);
  assert.equal(ob.persistOk, false);
});

test('end to end against the fake server: everything stored once, in order', async () => {
  const { ob } = newOutbox();
  const server = new FakeServer(TASKS);
  wire(ob, server);
  for (let t = 0; t < 3; t += 1) {
    const id = TASKS[t].id;
    ob.enqueue(ev('task_started', { task_index: t }, id));
    ob.enqueue(ev('option_selected', { option_id: 'opt_1', is_first_selection: true }, id));
    ob.enqueue(ev('option_changed', { from_option_id: 'opt_1', to_option_id: 'opt_3', time_since_last_change_ms: 900 }, id));
    ob.enqueue(ev('reasoning_started', { time_since_task_start_ms: 100 }, id));
    ob.enqueue(ev('reasoning_submitted', { final_text: 'because it is safer for everyone', word_count: 6, character_count: 32 }, id));
    ob.enqueue(ev('task_completed', { final_option_id: 'opt_3', task_duration_ms: 12_000 }, id));
    await flush();
  }
  await flush();
  assert.equal(ob.pendingCount(), 0);
  assert.equal(server.stored.length, 18);
  assert.equal(server.state.completed, true);
  assert.equal(ob.confirmed().finished, true);
  assert.deepEqual(refState().index, 0);
});
