/**
 * The project's WebSocket (`gms/ws/{projectId}`): reconnects with capped, jittered back-off, sends
 * heartbeats, drops a connection that has gone silent, and asks for a resync after each reconnect.
 */
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';
import { IDisposable } from '@lumino/disposable';
import { ISignal, Signal } from '@lumino/signaling';

import { EventDispatcher, parseServerEvent } from './events';
import type { ClientMessage, Hello } from './events.generated';

/** Where the connection is: being opened (or waiting to be), open, or closed for good. */
export type ConnectionState = 'connecting' | 'open' | 'closed';

/** The part of the browser's `WebSocket` this client uses; tests provide a fake. */
export interface IWebSocketLike {
  readonly readyState: number;
  onopen: ((event: Event) => void) | null;
  onclose: ((event: CloseEvent) => void) | null;
  onerror: ((event: Event) => void) | null;
  onmessage: ((event: MessageEvent) => void) | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}

/** Makes a WebSocket for a URL. */
export type WebSocketFactory = (url: string) => IWebSocketLike;

/** The clock the socket uses; tests substitute fake timers. */
export interface ITimers {
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
  now(): number;
  random(): number;
}

/** The real clock: the global timers, `Date.now` and `Math.random`. */
export const realTimers: ITimers = {
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: handle => clearTimeout(handle as ReturnType<typeof setTimeout>),
  now: () => Date.now(),
  random: () => Math.random()
};

/** Reconnect delays: `initialMs * factor^attempt`, at most `maxMs`, reduced by up to `jitter`. */
export interface IBackoff {
  initialMs: number;
  maxMs: number;
  factor: number;
  /** Fraction (0–1) of the delay that is randomised, so clients do not reconnect in step. */
  jitter: number;
}

/** What a resync listener is told: the server's hello and whether this is a reconnect. */
export interface IResyncRequest {
  hello: Hello;
  reconnect: boolean;
}

/** Options of a `StudioSocket`. */
export interface IStudioSocketOptions {
  /** The WebSocket URL (a function is re-evaluated at each connect). */
  url: string | (() => string);
  /** Makes the WebSocket; the browser's by default. */
  factory?: WebSocketFactory;
  /** The clock; the real one by default. */
  timers?: ITimers;
  /** Back-off between reconnects. */
  backoff?: Partial<IBackoff>;
  /** How often to ping while open, in ms. */
  heartbeatMs?: number;
  /** Silence after which the connection is taken as dead and replaced, in ms. */
  deadAfterMs?: number;
}

/** The defaults of the back-off. */
export const DEFAULT_BACKOFF: IBackoff = {
  initialMs: 500,
  maxMs: 30_000,
  factor: 2,
  jitter: 0.5
};

/** The WebSocket's "open" ready state. */
const OPEN = 1;

/**
 * The close code of a client that fell behind (the server's `FELL_BEHIND`): the server dropped
 * the events it could not send, so the client reconnects at once and re-reads the snapshot.
 */
export const FELL_BEHIND = 4008;

/**
 * The delay before reconnect attempt `attempt` (0 for the first).
 *
 * @param random - a number in [0, 1)
 */
export function backoffDelay(
  backoff: IBackoff,
  attempt: number,
  random: number
): number {
  const base = Math.min(
    backoff.maxMs,
    backoff.initialMs * Math.pow(backoff.factor, attempt)
  );
  return Math.round(base * (1 - backoff.jitter * random));
}

/**
 * The URL of a project's event socket, with the token in the query when the settings have one,
 * as `ServerConnection` does for kernels.
 */
export function socketUrl(
  projectId: string,
  settings: ServerConnection.ISettings = ServerConnection.makeSettings()
): string {
  const url = URLExt.join(
    settings.wsUrl,
    'gms/ws',
    encodeURIComponent(projectId)
  );
  return settings.token
    ? `${url}?token=${encodeURIComponent(settings.token)}`
    : url;
}

/** The studio's view of a socket, implemented by `StudioSocket` and faked in model tests. */
export interface IStudioSocket extends IDisposable {
  /** The typed events received. */
  readonly events: EventDispatcher;
  /** Emitted when the connection state changes. */
  readonly stateChanged: ISignal<IStudioSocket, ConnectionState>;
  /** Emitted on each `hello`: re-read the snapshot when it says so. */
  readonly resync: ISignal<IStudioSocket, IResyncRequest>;
  /** The current connection state. */
  readonly state: ConnectionState;
  /** Open the connection (and keep it open until `close`). */
  connect(): void;
  /** Send a message; false when the connection is not open. */
  send(message: ClientMessage): boolean;
  /** Reconnect now, skipping any back-off wait (when the server is known to be back). */
  reconnectNow(): void;
  /** Close for good: no reconnect. */
  close(): void;
}

/**
 * A WebSocket client that stays connected.
 *
 * After a close it reconnects with exponential back-off (reset by a successful hello). While open
 * it pings every `heartbeatMs`; when nothing at all arrives for `deadAfterMs` the socket is
 * dropped and replaced, since a dead TCP connection may never report a close.
 */
export class StudioSocket implements IStudioSocket {
  /**
   * @param options - URL, factory, clock, back-off and heartbeat settings
   */
  constructor(options: IStudioSocketOptions) {
    this._url = options.url;
    this._factory =
      options.factory ??
      ((url: string) => new (ServerConnection.makeSettings().WebSocket)(url));
    this._timers = options.timers ?? realTimers;
    this._backoff = { ...DEFAULT_BACKOFF, ...options.backoff };
    this._heartbeatMs = options.heartbeatMs ?? 20_000;
    this._deadAfterMs = options.deadAfterMs ?? 45_000;
  }

  /** The typed events received. */
  readonly events = new EventDispatcher();

  /** Emitted when the connection state changes. */
  get stateChanged(): ISignal<this, ConnectionState> {
    return this._stateChanged;
  }

  /** Emitted on each `hello`, with `reconnect` true after the first connection. */
  get resync(): ISignal<this, IResyncRequest> {
    return this._resync;
  }

  /** The current connection state. */
  get state(): ConnectionState {
    return this._state;
  }

  /** How many reconnect attempts have failed in a row. */
  get attempts(): number {
    return this._attempt;
  }

  /** Whether the socket has been disposed. */
  get isDisposed(): boolean {
    return this._isDisposed;
  }

  /** Open the connection; it is kept open (reconnecting as needed) until `close`. */
  connect(): void {
    if (this._isDisposed) {
      return;
    }
    this._wanted = true;
    if (this._ws || this._retryTimer !== null) {
      return;
    }
    this._open();
  }

  /** Send a message; false (and nothing sent) when the connection is not open. */
  send(message: ClientMessage): boolean {
    if (!this._ws || this._ws.readyState !== OPEN) {
      return false;
    }
    this._ws.send(JSON.stringify(message));
    return true;
  }

  /** Reconnect now, skipping any back-off wait (e.g. when the server is known to be back). */
  reconnectNow(): void {
    if (!this._wanted || this._state === 'open') {
      return;
    }
    this._clearTimer('_retryTimer');
    this._drop();
    this._open();
  }

  /** Close for good: no reconnect. */
  close(): void {
    this._wanted = false;
    this._clearTimer('_retryTimer');
    this._drop();
    this._setState('closed');
  }

  /** Close and drop every listener. */
  dispose(): void {
    if (this._isDisposed) {
      return;
    }
    this.close();
    this._isDisposed = true;
    this.events.dispose();
    Signal.clearData(this);
  }

  private _open(): void {
    this._setState('connecting');
    const url = typeof this._url === 'function' ? this._url() : this._url;
    let ws: IWebSocketLike;
    try {
      ws = this._factory(url);
    } catch (error) {
      console.warn('gms: cannot open the event socket', error);
      this._scheduleReconnect();
      return;
    }
    this._ws = ws;
    // A connect attempt that neither opens nor fails is given up like a silent connection.
    this._armDeadTimer();
    ws.onopen = () => {
      if (ws !== this._ws) {
        return;
      }
      this._setState('open');
      this._armDeadTimer();
      this._scheduleHeartbeat();
    };
    ws.onmessage = (event: MessageEvent) => {
      if (ws !== this._ws) {
        return;
      }
      this._armDeadTimer();
      this._onMessage(String(event.data));
    };
    ws.onerror = () => {
      // A close follows every error; reconnecting is handled there.
    };
    ws.onclose = (event: CloseEvent) => {
      if (ws !== this._ws) {
        return;
      }
      if (event?.code === FELL_BEHIND) {
        // Not a failure: come back without the back-off; the hello that follows resyncs.
        console.warn(
          'gms: the event socket fell behind; reconnecting to resync'
        );
        this._attempt = 0;
      }
      this._lost();
    };
  }

  private _onMessage(text: string): void {
    const event = parseServerEvent(text);
    if (!event) {
      console.warn(
        'gms: ignored an unknown message on the event socket',
        text.slice(0, 200)
      );
      return;
    }
    if (event.type === 'hello') {
      // Only a hello proves that the server accepted us: reset the back-off here, not on open.
      this._attempt = 0;
      const reconnect = this._helloCount > 0;
      this._helloCount += 1;
      this._resync.emit({ hello: event, reconnect });
    }
    this.events.dispatch(event);
  }

  /** The connection went away (closed, or silent for too long): replace it unless closed. */
  private _lost(): void {
    this._drop();
    if (!this._wanted) {
      this._setState('closed');
      return;
    }
    this._scheduleReconnect();
  }

  private _scheduleReconnect(): void {
    const delay = backoffDelay(
      this._backoff,
      this._attempt,
      this._timers.random()
    );
    this._attempt += 1;
    // While waiting, the socket is closed; the state turns to connecting when the attempt starts.
    this._setState('closed');
    this._retryTimer = this._timers.setTimeout(() => {
      this._retryTimer = null;
      if (this._wanted) {
        this._open();
      }
    }, delay);
  }

  private _scheduleHeartbeat(): void {
    this._clearTimer('_heartbeatTimer');
    this._heartbeatTimer = this._timers.setTimeout(() => {
      this._heartbeatTimer = null;
      if (this._ws && this._ws.readyState === OPEN) {
        this.send({ type: 'ping', time: this._timers.now() / 1000 });
        this._scheduleHeartbeat();
      }
    }, this._heartbeatMs);
  }

  private _armDeadTimer(): void {
    this._clearTimer('_deadTimer');
    this._deadTimer = this._timers.setTimeout(() => {
      this._deadTimer = null;
      console.warn(`gms: no message for ${this._deadAfterMs} ms, reconnecting`);
      this._lost();
    }, this._deadAfterMs);
  }

  /** Detach from the current WebSocket and close it; its late events are ignored. */
  private _drop(): void {
    this._clearTimer('_heartbeatTimer');
    this._clearTimer('_deadTimer');
    const ws = this._ws;
    this._ws = null;
    if (ws) {
      ws.onopen = null;
      ws.onmessage = null;
      ws.onclose = null;
      ws.onerror = null;
      try {
        ws.close();
      } catch {
        // Closing a socket that never opened may throw in some browsers; it is gone either way.
      }
    }
  }

  private _clearTimer(
    name: '_retryTimer' | '_heartbeatTimer' | '_deadTimer'
  ): void {
    if (this[name] !== null) {
      this._timers.clearTimeout(this[name]);
      this[name] = null;
    }
  }

  private _setState(state: ConnectionState): void {
    if (this._state !== state) {
      this._state = state;
      this._stateChanged.emit(state);
    }
  }

  private _url: string | (() => string);
  private _factory: WebSocketFactory;
  private _timers: ITimers;
  private _backoff: IBackoff;
  private _heartbeatMs: number;
  private _deadAfterMs: number;
  private _ws: IWebSocketLike | null = null;
  private _wanted = false;
  private _attempt = 0;
  private _helloCount = 0;
  private _state: ConnectionState = 'closed';
  private _retryTimer: unknown = null;
  private _heartbeatTimer: unknown = null;
  private _deadTimer: unknown = null;
  private _isDisposed = false;
  private _stateChanged = new Signal<this, ConnectionState>(this);
  private _resync = new Signal<this, IResyncRequest>(this);
}
