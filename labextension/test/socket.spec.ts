/**
 * The event socket: reconnect with capped, jittered back-off; heartbeat; dead-connection timeout;
 * resync after a reconnect. Driven with a fake WebSocket and a manual clock.
 */
import { ServerConnection } from '@jupyterlab/services';
import { beforeEach, describe, expect, it, vi } from 'vitest';

import {
  backoffDelay,
  ConnectionState,
  DEFAULT_BACKOFF,
  FELL_BEHIND,
  IResyncRequest,
  socketUrl,
  StudioSocket
} from '../src/socket';
import { FakeWebSocket, ManualClock } from './fakes';

const hello = (version = 1) => ({
  type: 'hello',
  projectId: 'film',
  version,
  clientId: 'c1',
  serverTime: 0
});

/** The first reconnect delay of the sockets these tests make. */
const DEFAULT_TEST_INITIAL = 100;

function makeSocket(clock: ManualClock) {
  const socket = new StudioSocket({
    url: 'ws://lab/gms/ws/film',
    factory: url => new FakeWebSocket(url),
    timers: clock,
    backoff: {
      initialMs: DEFAULT_TEST_INITIAL,
      maxMs: 1000,
      factor: 2,
      jitter: 0.5
    },
    heartbeatMs: 1000,
    deadAfterMs: 3000
  });
  const states: ConnectionState[] = [];
  const resyncs: IResyncRequest[] = [];
  socket.stateChanged.connect((_, state) => states.push(state));
  socket.resync.connect((_, request) => resyncs.push(request));
  return { socket, states, resyncs };
}

describe('StudioSocket', () => {
  let clock: ManualClock;

  beforeEach(() => {
    clock = new ManualClock();
    FakeWebSocket.instances = [];
    vi.spyOn(console, 'warn').mockImplementation(() => undefined);
  });

  it('connects, reports its state and asks for a first sync on hello', () => {
    const { socket, states, resyncs } = makeSocket(clock);
    socket.connect();
    const ws = FakeWebSocket.latest();
    expect(ws.url).toBe('ws://lab/gms/ws/film');
    expect(socket.state).toBe('connecting');

    ws.accept();
    ws.receive(hello(7));

    expect(states).toEqual(['connecting', 'open']);
    expect(resyncs).toHaveLength(1);
    expect(resyncs[0].reconnect).toBe(false);
    expect(resyncs[0].hello.version).toBe(7);
  });

  it('dispatches typed events to subscribers', () => {
    const { socket } = makeSocket(clock);
    const steps: string[] = [];
    socket.events.on('task_progress', event => steps.push(event.step));
    socket.connect();
    const ws = FakeWebSocket.latest();
    ws.accept();
    ws.receive({
      type: 'task_progress',
      taskId: 't',
      nodeId: 'sh1',
      progress: 0.2,
      step: 'sampling',
      status: 'running',
      seq: 2
    });
    ws.receive({ type: 'unknown_kind' });
    expect(steps).toEqual(['sampling']);
  });

  it('reconnects after a drop and asks for a resync when the server says hello again', () => {
    const { socket, states, resyncs } = makeSocket(clock);
    socket.connect();
    FakeWebSocket.latest().accept();
    FakeWebSocket.latest().receive(hello(1));

    FakeWebSocket.latest().drop();
    expect(socket.state).toBe('closed');
    expect(FakeWebSocket.instances).toHaveLength(1);

    clock.advance(100);
    expect(FakeWebSocket.instances).toHaveLength(2);
    FakeWebSocket.latest().accept();
    FakeWebSocket.latest().receive(hello(4));

    expect(states).toEqual([
      'connecting',
      'open',
      'closed',
      'connecting',
      'open'
    ]);
    expect(resyncs.map(r => r.reconnect)).toEqual([false, true]);
    expect(resyncs[1].hello.version).toBe(4);
  });

  it('comes back at once and resyncs when the server says it fell behind (4008)', () => {
    const { socket, resyncs } = makeSocket(clock);
    socket.connect();
    FakeWebSocket.latest().accept();
    FakeWebSocket.latest().receive(hello(1));
    // a few failed attempts first, so the back-off has grown
    for (let attempt = 0; attempt < 3; attempt++) {
      FakeWebSocket.latest().drop();
      clock.advance(clock.pendingDelays()[0]);
    }
    FakeWebSocket.latest().accept();
    FakeWebSocket.latest().drop(FELL_BEHIND);
    const [delay] = clock.pendingDelays();
    expect(delay).toBeLessThanOrEqual(DEFAULT_TEST_INITIAL);
    clock.advance(delay);
    FakeWebSocket.latest().accept();
    FakeWebSocket.latest().receive(hello(9));
    expect(socket.state).toBe('open');
    expect(resyncs.map(r => r.reconnect)).toEqual([false, true]);
    expect(resyncs[1].hello.version).toBe(9);
  });

  it('backs off exponentially up to the cap while the server refuses', () => {
    const { socket } = makeSocket(clock);
    socket.connect();
    const delays: number[] = [];
    for (let attempt = 0; attempt < 7; attempt++) {
      FakeWebSocket.latest().drop();
      const [delay] = clock.pendingDelays();
      delays.push(delay);
      clock.advance(delay);
    }
    // random() = 0: no jitter reduction.
    expect(delays).toEqual([100, 200, 400, 800, 1000, 1000, 1000]);
    expect(FakeWebSocket.instances).toHaveLength(8);
  });

  it('spreads reconnects with jitter, never beyond the un-jittered delay', () => {
    clock.randomValue = 0.999;
    const { socket } = makeSocket(clock);
    socket.connect();
    FakeWebSocket.latest().drop();
    const [delay] = clock.pendingDelays();
    expect(delay).toBeGreaterThanOrEqual(50);
    expect(delay).toBeLessThan(100);
    expect(backoffDelay(DEFAULT_BACKOFF, 0, 0.5)).toBe(375);
    expect(backoffDelay(DEFAULT_BACKOFF, 30, 0)).toBe(DEFAULT_BACKOFF.maxMs);
  });

  it('resets the back-off once a connection is accepted (hello)', () => {
    const { socket } = makeSocket(clock);
    socket.connect();
    FakeWebSocket.latest().drop();
    clock.advance(100);
    FakeWebSocket.latest().drop();
    clock.advance(200);
    expect(socket.attempts).toBe(2);

    FakeWebSocket.latest().accept();
    FakeWebSocket.latest().receive(hello());
    expect(socket.attempts).toBe(0);
    FakeWebSocket.latest().drop();
    expect(clock.pendingDelays()).toEqual([100]);
  });

  it('pings at the heartbeat interval while open', () => {
    const { socket } = makeSocket(clock);
    socket.connect();
    const ws = FakeWebSocket.latest();
    ws.accept();
    ws.receive(hello());

    clock.advance(999);
    expect(ws.messages()).toEqual([]);
    clock.advance(1);
    ws.receive({ type: 'pong' });
    clock.advance(1000);
    ws.receive({ type: 'pong' });

    expect(ws.messages().map(m => m.type)).toEqual(['ping', 'ping']);
  });

  it('replaces a connection that has gone silent', () => {
    const { socket, states } = makeSocket(clock);
    socket.connect();
    const ws = FakeWebSocket.latest();
    ws.accept();
    ws.receive(hello());

    // Pongs keep it alive past the dead timeout…
    clock.advance(2000);
    ws.receive({ type: 'pong' });
    clock.advance(2000);
    expect(ws.closedByClient).toBe(false);

    // …silence does not: 3 s after the last pong (t = 2 s) the socket is dropped.
    clock.advance(999);
    expect(ws.closedByClient).toBe(false);
    clock.advance(1);
    expect(ws.closedByClient).toBe(true);
    expect(states[states.length - 1]).toBe('closed');
    clock.advance(100);
    expect(FakeWebSocket.instances).toHaveLength(2);
  });

  it('gives up on a connect attempt that never opens', () => {
    const { socket } = makeSocket(clock);
    socket.connect();
    clock.advance(3000);
    expect(FakeWebSocket.instances[0].closedByClient).toBe(true);
    clock.advance(100);
    expect(FakeWebSocket.instances).toHaveLength(2);
  });

  it('stays closed after close(), ignoring late events of the old socket', () => {
    const { socket, states } = makeSocket(clock);
    socket.connect();
    const ws = FakeWebSocket.latest();
    ws.accept();
    socket.close();
    ws.drop();
    clock.advance(60_000);
    expect(FakeWebSocket.instances).toHaveLength(1);
    expect(states[states.length - 1]).toBe('closed');
  });

  it('sends only while open', () => {
    const { socket } = makeSocket(clock);
    socket.connect();
    expect(socket.send({ type: 'ping' })).toBe(false);
    FakeWebSocket.latest().accept();
    expect(
      socket.send({
        type: 'start_generation',
        nodeId: 'sh1',
        nodeType: 'still',
        parameters: {}
      })
    ).toBe(true);
    expect(FakeWebSocket.latest().messages()[0]).toMatchObject({
      type: 'start_generation',
      nodeType: 'still'
    });
  });

  it('retries when the WebSocket cannot even be created', () => {
    let calls = 0;
    const socket = new StudioSocket({
      url: () => 'ws://lab/gms/ws/film',
      factory: url => {
        calls += 1;
        if (calls === 1) {
          throw new Error('blocked');
        }
        return new FakeWebSocket(url);
      },
      timers: clock,
      backoff: { initialMs: 100 }
    });
    socket.connect();
    expect(socket.state).toBe('closed');
    clock.advance(100);
    expect(calls).toBe(2);
    expect(socket.state).toBe('connecting');
  });

  it('reconnects at once when asked, skipping the back-off wait', () => {
    const { socket } = makeSocket(clock);
    socket.connect();
    FakeWebSocket.latest().drop();
    socket.reconnectNow();
    expect(FakeWebSocket.instances).toHaveLength(2);
    expect(clock.pendingDelays()).toEqual([3000]);
  });

  it('stops everything on dispose', () => {
    const { socket } = makeSocket(clock);
    socket.connect();
    FakeWebSocket.latest().accept();
    socket.dispose();
    expect(socket.isDisposed).toBe(true);
    expect(clock.pendingDelays()).toEqual([]);
    socket.connect();
    expect(FakeWebSocket.instances).toHaveLength(1);
  });
});

describe('socketUrl', () => {
  it('derives ws(s):// from the server settings and passes the token', () => {
    const settings = ServerConnection.makeSettings({
      baseUrl: 'https://hub.example/user/ana/',
      wsUrl: 'wss://hub.example/user/ana/',
      token: 's3cret'
    });
    expect(socketUrl('my film', settings)).toBe(
      'wss://hub.example/user/ana/gms/ws/my%20film?token=s3cret'
    );
  });

  it('omits the token when there is none', () => {
    const settings = ServerConnection.makeSettings({
      baseUrl: 'http://localhost:8888/',
      wsUrl: 'ws://localhost:8888/',
      token: ''
    });
    expect(socketUrl('film', settings)).toBe('ws://localhost:8888/gms/ws/film');
  });
});
