import assert from 'node:assert/strict';
import { test } from 'node:test';

import { backoffDelay, Connection } from '../../ingest_server/static/connection.js';
import { Outbox } from '../../ingest_server/static/outbox.js';
import { ctxFor, FakeClock, flush, makeTasks, MemStorage } from './helpers.mjs';

const TASKS = makeTasks(2);

/** A scripted WebSocket: tests push server frames and closes. */
function fakeSocketClass(log) {
  return class FakeWS {
    constructor(url) {
      this.url = url;
      this.readyState = 1;
      this.sent = [];
      this.closedWith = null;
      log.push(this);
    }
    send(text) { this.sent.push(JSON.parse(text)); }
    close(code) { this.closedWith = code; this.readyState = 3; }
    // test side
    serverSays(obj) { this.onmessage({ data: JSON.stringify(obj) }); }
    serverCloses(code) { this.readyState = 3; this.onclose({ code, reason: '' }); }
  };
}

function setup({ storage = new MemStorage(), probe = async () => 'in_progress' } = {}) {
  const clock = new FakeClock();
  const sockets = [];
  const events = [];
  const ob = new Outbox({ storage, ns: 'hm.k', ctx: ctxFor(TASKS), now: clock.now });
  const conn = new Connection({
    url: 'ws://example.test/ws/assessment/tok', outbox: ob, WebSocketImpl: fakeSocketClass(sockets),
    onEvent: (kind, data) => events.push([kind, data]), probeState: probe,
    now: clock.now, setTimer: clock.setTimer, clearTimer: clock.clearTimer, random: () => 0.5,
  });
  return { clock, sockets, events, ob, conn, storage };
}

const INFO = { type: 'assessment_info', status: 'pending', candidate_name: 'Ada', position: 'Analyst', total_tasks: 2, current_task_index: 0, expires_at: '2026-12-01T00:00:00Z' };
const STATUS = { type: 'attempt_status', status: 'in_progress', current_task_index: 0, total_tasks: 2 };
const kinds = (events) => events.map((e) => e[0]);

test('start: assessment_info, then start, then the session key is kept', () => {
  const { sockets, events, ob, conn, storage } = setup();
  conn.start();
  assert.equal(sockets.length, 1);
  assert.equal(sockets[0].url, 'ws://example.test/ws/assessment/tok');
  sockets[0].serverSays(INFO);
  assert.deepEqual(sockets[0].sent, [{ type: 'start' }]);
  sockets[0].serverSays({ type: 'started', session_key: 'S3CRET', attempt_status: STATUS });
  assert.ok(kinds(events).includes('started'));
  assert.equal(ob.sessionKey, 'S3CRET');
  assert.ok(storage.getItem('hm.k.meta').includes('S3CRET'));
  conn.getTask(0);
  assert.deepEqual(sockets[0].sent.at(-1), { type: 'get_task', index: 0 });
  ob.enqueue({ task_id: 'task0', event_type: 'task_started', payload: { task_index: 0 } });
  assert.equal(sockets[0].sent.at(-1).type, 'event');
  assert.equal(sockets[0].sent.at(-1).seq, 1);
});

test('resume after a reconnect: resume with the key, then re-send what is not stored', () => {
  const { clock, sockets, events, ob, conn } = setup();
  conn.start();
  sockets[0].serverSays(INFO);
  sockets[0].serverSays({ type: 'started', session_key: 'K', attempt_status: STATUS });
  ob.enqueue({ task_id: 'task0', event_type: 'task_started', payload: { task_index: 0 } });
  ob.enqueue({ task_id: 'task0', event_type: 'option_selected', payload: { option_id: 'opt_1', is_first_selection: true } });
  ob.enqueue({ task_id: 'task0', event_type: 'focus_lost', payload: { trigger: 'tab_switch' } });
  // seq 1 in flight, connection drops before any ack
  sockets[0].serverCloses(1006);
  assert.ok(kinds(events).includes('offline'));
  clock.advance(1000);
  assert.equal(sockets.length, 2, 'reconnected after the back-off');
  sockets[1].serverSays({ ...INFO, status: 'in_progress' });
  assert.deepEqual(sockets[1].sent, [{ type: 'resume', session_key: 'K' }]);
  sockets[1].serverSays({ type: 'resumed', last_sequence_number: 1, current_task_index: 0, attempt_status: STATUS });
  assert.ok(kinds(events).includes('online'));
  const batch = sockets[1].sent.at(-1);
  assert.equal(batch.type, 'batch');
  assert.deepEqual(batch.events.map((e) => [e.seq, e.event_type]), [[2, 'option_selected'], [3, 'focus_lost']]);
});

test('4409 (taken over): says so and does not reconnect', () => {
  const { clock, sockets, events, conn } = setup();
  conn.start();
  sockets[0].serverSays(INFO);
  sockets[0].serverSays({ type: 'started', session_key: 'K', attempt_status: STATUS });
  sockets[0].serverCloses(4409);
  clock.advance(120_000);
  assert.equal(sockets.length, 1);
  assert.ok(kinds(events).includes('taken_over'));
});

test('token_already_used + 4403: already used, no reconnect', () => {
  const { clock, sockets, events, conn } = setup();
  conn.start();
  sockets[0].serverSays({ ...INFO, status: 'in_progress' });
  sockets[0].serverSays({ type: 'error', code: 'token_already_used' });
  sockets[0].serverCloses(4403);
  clock.advance(120_000);
  assert.equal(sockets.length, 1);
  assert.ok(kinds(events).includes('already_used'));
});

test('1013 (try again later): reconnects after a longer back-off', () => {
  const { clock, sockets, conn } = setup();
  conn.start();
  sockets[0].serverSays(INFO);
  sockets[0].serverSays({ type: 'started', session_key: 'K', attempt_status: STATUS });
  sockets[0].serverCloses(1013);
  clock.advance(2000);
  assert.equal(sockets.length, 1, 'not yet');
  clock.advance(10_000);
  assert.equal(sockets.length, 2);
});

test('1000 after assessment_completed: done, no reconnect', () => {
  const { clock, sockets, events, conn } = setup();
  conn.start();
  sockets[0].serverSays(INFO);
  sockets[0].serverSays({ type: 'started', session_key: 'K', attempt_status: STATUS });
  sockets[0].serverSays({ type: 'assessment_completed', attempt_id: 'a1', completed_at: '2026-11-25T18:30:00Z' });
  sockets[0].serverCloses(1000);
  clock.advance(120_000);
  assert.equal(sockets.length, 1);
  assert.deepEqual(kinds(events).slice(-2), ['completed', 'done']);
});

test('refused upgrades: after two failures the page state is probed, and a final state stops', async () => {
  const { clock, sockets, events, conn } = setup({ probe: async () => 'expired' });
  conn.resume();
  sockets[0].serverCloses(1006); // never opened (a 410 looks like this to a browser)
  clock.advance(1000);
  assert.equal(sockets.length, 2);
  sockets[1].serverCloses(1006);
  await flush();
  clock.advance(120_000);
  assert.equal(sockets.length, 2);
  assert.deepEqual(events.find((e) => e[0] === 'terminal')[1], { state: 'expired' });
});

test('a resume against a pending attempt is a stale key', () => {
  const { sockets, events, ob, conn } = setup();
  ob.setSessionKey('old');
  conn.resume();
  sockets[0].serverSays(INFO);
  assert.deepEqual(sockets[0].sent, []);
  assert.ok(kinds(events).includes('stale_session'));
});

test('an overdue answer forces a reconnect', () => {
  const { clock, sockets, ob, conn } = setup();
  conn.start();
  sockets[0].serverSays(INFO);
  sockets[0].serverSays({ type: 'started', session_key: 'K', attempt_status: STATUS });
  ob.enqueue({ task_id: 'task0', event_type: 'task_started', payload: { task_index: 0 } });
  clock.advance(40_000);
  assert.equal(sockets[0].closedWith, 4000);
  assert.equal(sockets.length, 2);
});

test('back-off grows exponentially with jitter and is capped', () => {
  const lo = (n) => backoffDelay(n, { random: () => 0 });
  const hi = (n) => backoffDelay(n, { random: () => 0.999999 });
  assert.equal(lo(0), 250);
  assert.equal(hi(0), 500);
  assert.equal(lo(3), 2000);
  assert.equal(hi(3), 4000);
  assert.equal(hi(20), 30000);
  assert.equal(lo(20), 15000);
});

test('attempt_closed without a seq (the attempt expired meanwhile) stops the page', () => {
  const { clock, sockets, events, conn } = setup();
  conn.start();
  sockets[0].serverSays(INFO);
  sockets[0].serverSays({ type: 'started', session_key: 'K', attempt_status: STATUS });
  conn.getTask(1);
  sockets[0].serverSays({ type: 'error', code: 'attempt_closed', message: 'this assessment is closed' });
  sockets[0].serverCloses(1000);
  clock.advance(120_000);
  assert.equal(sockets.length, 1);
  assert.ok(kinds(events).includes('attempt_closed'));
});

test('a re-issued link: started with resumed_from continues the numbering at the current task', () => {
  const { sockets, ob, conn } = setup();
  conn.start();
  sockets[0].serverSays({ ...INFO, status: 'in_progress', current_task_index: 1 });
  sockets[0].serverSays({
    type: 'started', session_key: 'NEW', resumed_from: 9, last_sequence_number: 9, current_task_index: 1,
    attempt_status: { ...STATUS, current_task_index: 1 },
  });
  assert.equal(ob.lastAcked, 9);
  assert.equal(ob.state().index, 1);
  assert.equal(ob.uncertain(), true);
  ob.enqueue({ task_id: 'task1', event_type: 'task_started', payload: { task_index: 1 } });
  assert.equal(sockets[0].sent.at(-1).seq, 10);
});

// ------------------------------------------------------------------ issue 15

test('start carries the acknowledged notice version', () => {
  const { sockets, conn } = setup();
  conn.start({ notice_version: '1-3f9c2a1b' });
  sockets[0].serverSays(INFO);
  assert.deepEqual(sockets[0].sent, [{ type: 'start', consent: { notice_version: '1-3f9c2a1b' } }]);
});

test('consent_required: said to the page, the socket stays open, and a new start goes on it', () => {
  const { clock, sockets, events, ob, conn } = setup();
  conn.start({ notice_version: 'old' });
  sockets[0].serverSays(INFO);
  sockets[0].serverSays({ type: 'error', code: 'consent_required', message: 'acknowledge the notice', notice_version: 'new' });
  const [, msg] = events.find((e) => e[0] === 'consent_required');
  assert.equal(msg.notice_version, 'new');
  clock.advance(60_000); // the candidate reads the notice again: not a stalled handshake
  assert.equal(sockets.length, 1);
  assert.equal(sockets[0].closedWith, null);
  assert.equal(conn.intent, null);
  conn.start({ notice_version: 'new' });
  assert.equal(sockets.length, 1);
  assert.deepEqual(sockets[0].sent.at(-1), { type: 'start', consent: { notice_version: 'new' } });
  sockets[0].serverSays({ type: 'started', session_key: 'K', attempt_status: STATUS });
  assert.equal(ob.sessionKey, 'K');
});

test('consent_required then the socket closes: no reconnect until Start is pressed again', () => {
  const { clock, sockets, conn } = setup();
  conn.start({ notice_version: 'old' });
  sockets[0].serverSays(INFO);
  sockets[0].serverSays({ type: 'error', code: 'consent_required', notice_version: 'new' });
  sockets[0].serverCloses(1001);
  clock.advance(120_000);
  assert.equal(sockets.length, 1);
  conn.start({ notice_version: 'new' });
  assert.equal(sockets.length, 2);
  sockets[1].serverSays(INFO);
  assert.deepEqual(sockets[1].sent, [{ type: 'start', consent: { notice_version: 'new' } }]);
});

test('resume carries no consent', () => {
  const { sockets, ob, conn } = setup();
  ob.setSessionKey('K');
  conn.consent = { notice_version: 'v' };
  conn.resume();
  sockets[0].serverSays({ ...INFO, status: 'in_progress' });
  assert.deepEqual(sockets[0].sent, [{ type: 'resume', session_key: 'K' }]);
});

test('an unanswered get_task is noticed within about 10 s, and asked again after the reconnect', () => {
  const { clock, sockets, events, conn } = setup();
  conn.start({ notice_version: 'v' });
  sockets[0].serverSays(INFO);
  sockets[0].serverSays({ type: 'started', session_key: 'K', attempt_status: STATUS });
  conn.getTask(1);
  clock.advance(8000);
  assert.equal(sockets[0].closedWith, null, 'not before 9 s');
  clock.advance(3000);
  assert.equal(sockets[0].closedWith, 4000, 'a dead socket is given up after 9-11 s');
  assert.ok(kinds(events).includes('offline'));
  clock.advance(1000);
  assert.equal(sockets.length, 2);
  sockets[1].serverSays({ ...INFO, status: 'in_progress' });
  sockets[1].serverSays({ type: 'resumed', last_sequence_number: 0, current_task_index: 1, attempt_status: STATUS });
  assert.deepEqual(sockets[1].sent.at(-1), { type: 'get_task', index: 1 });
});

test('answered requests keep the socket; so does an unanswered complete for under 9 s', () => {
  const { clock, sockets, conn } = setup();
  conn.start({ notice_version: 'v' });
  sockets[0].serverSays(INFO);
  sockets[0].serverSays({ type: 'started', session_key: 'K', attempt_status: STATUS });
  conn.getTask(0);
  clock.advance(500);
  sockets[0].serverSays({ type: 'task', index: 0, task: TASKS[0] });
  conn.getTask(1);
  sockets[0].serverSays({ type: 'error', code: 'task_not_available' });
  clock.advance(30_000);
  assert.equal(sockets[0].closedWith, null);
  conn.complete();
  clock.advance(8000);
  assert.equal(sockets[0].closedWith, null);
  sockets[0].serverSays({ type: 'error', code: 'incomplete' });
  clock.advance(30_000);
  assert.equal(sockets[0].closedWith, null);
  assert.equal(sockets.length, 1);
});

test('an accommodation request goes on a socket of its own: after assessment_info, then closed', async () => {
  const { requestAccommodation } = await import('../../ingest_server/static/connection.js');
  const sockets = [];
  const clock = new FakeClock();
  const pending = requestAccommodation({
    url: 'ws://example.test/ws/assessment/tok', needs: ['extra_time'], note: 'NVDA',
    WebSocketImpl: fakeSocketClass(sockets), setTimer: clock.setTimer, clearTimer: clock.clearTimer,
  });
  assert.equal(sockets.length, 1);
  assert.deepEqual(sockets[0].sent, []); // nothing before the server's first message
  sockets[0].serverSays(INFO);
  assert.deepEqual(sockets[0].sent, [{ type: 'request_accommodation', needs: ['extra_time'], note: 'NVDA' }]);
  sockets[0].serverSays({ type: 'accommodation_request_received', requested_at: '2026-12-05T10:00:00.000Z' });
  assert.deepEqual(await pending, { ok: true, requestedAt: '2026-12-05T10:00:00.000Z' });
  assert.equal(sockets[0].closedWith, 1000);
  assert.ok(!sockets[0].sent.some((m) => m.type === 'start')); // asking starts nothing
});

test('an accommodation request reports a refusal, a closed assessment and silence', async () => {
  const { requestAccommodation } = await import('../../ingest_server/static/connection.js');
  const cases = [
    [(ws) => { ws.serverSays(INFO); ws.serverSays({ type: 'error', code: 'invalid_payload', message: 'x' }); }, 'invalid'],
    [(ws) => { ws.serverSays(INFO); ws.serverSays({ type: 'error', code: 'attempt_closed', message: 'x' }); }, 'closed'],
    [(ws) => ws.serverCloses(1006), 'refused'], // the upgrade was refused (404/410/429 look alike)
    [(ws, clock) => { ws.serverSays(INFO); clock.advance(15000); }, 'network'],
  ];
  for (const [script, reason] of cases) {
    const sockets = [];
    const clock = new FakeClock();
    const pending = requestAccommodation({
      url: 'ws://x/ws/assessment/tok', needs: [], note: 'help', WebSocketImpl: fakeSocketClass(sockets),
      setTimer: clock.setTimer, clearTimer: clock.clearTimer,
    });
    script(sockets[0], clock);
    assert.deepEqual(await pending, { ok: false, reason }, reason);
  }
});

test('a self-identification is sent when its socket opens, with the session key, then the socket is closed', async () => {
  const { sendSelfIdentification } = await import('../../ingest_server/static/connection.js');
  const sockets = [];
  const clock = new FakeClock();
  const pending = sendSelfIdentification({
    url: 'ws://x/ws/self-id/tok', sessionKey: 'k'.repeat(43),
    answers: { sex: 'female', race_ethnicity: 'prefer_not_to_say', consent: true },
    WebSocketImpl: fakeSocketClass(sockets), setTimer: clock.setTimer, clearTimer: clock.clearTimer,
  });
  assert.equal(sockets[0].url, 'ws://x/ws/self-id/tok');
  assert.deepEqual(sockets[0].sent, []);
  sockets[0].onopen();
  assert.deepEqual(sockets[0].sent, [{
    type: 'self_identification', session_key: 'k'.repeat(43), sex: 'female', race_ethnicity: 'prefer_not_to_say', consent: true,
  }]);
  sockets[0].serverSays({ type: 'self_identification_received', recorded_at: '2026-12-05T10:00:00.000Z' });
  assert.deepEqual(await pending, { ok: true, recordedAt: '2026-12-05T10:00:00.000Z' });
  assert.equal(sockets[0].closedWith, 1000);
});

test('a refused self-identification and a refused handshake are told apart', async () => {
  const { sendSelfIdentification } = await import('../../ingest_server/static/connection.js');
  const cases = [
    [(ws) => { ws.onopen(); ws.serverSays({ type: 'error', code: 'invalid_payload', message: 'x' }); }, 'invalid'],
    [(ws) => ws.serverCloses(1006), 'refused'],
    [(ws, clock) => { ws.onopen(); clock.advance(15000); }, 'network'],
  ];
  for (const [script, reason] of cases) {
    const sockets = [];
    const clock = new FakeClock();
    const pending = sendSelfIdentification({
      url: 'ws://x/ws/self-id/tok', sessionKey: 'k', answers: {}, WebSocketImpl: fakeSocketClass(sockets),
      setTimer: clock.setTimer, clearTimer: clock.clearTimer,
    });
    script(sockets[0], clock);
    assert.deepEqual(await pending, { ok: false, reason }, reason);
  }
});
