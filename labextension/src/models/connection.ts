/**
 * The open project's event socket: its state, the events it delivers, the resyncs it asks for,
 * and the live node states the server reports.
 */
import { ISignal, Signal } from '@lumino/signaling';

import type {
  ClientMessage,
  NodeStateUpdated,
  ServerEvent
} from '../events.generated';
import type { ConnectionState, IResyncRequest, IStudioSocket } from '../socket';
import type { JSONRecord } from '../types';

/** The live link to the open project's events. */
export class Connection {
  /**
   * @param createSocket - makes the event socket of a project; without it there is no live link
   */
  constructor(createSocket: ((projectId: string) => IStudioSocket) | null) {
    this._createSocket = createSocket;
  }

  /** Emitted when the socket's state changes. */
  get stateChanged(): ISignal<this, ConnectionState> {
    return this._stateChanged;
  }

  /** Emitted for every event the socket delivers. */
  get eventArrived(): ISignal<this, ServerEvent> {
    return this._eventArrived;
  }

  /** Emitted after each (re)connect: the snapshot must be re-read. */
  get resyncRequested(): ISignal<this, IResyncRequest> {
    return this._resyncRequested;
  }

  /** Emitted when the server reports a node's live state (e.g. a take generating). */
  get nodeStatesChanged(): ISignal<this, ReadonlyMap<string, JSONRecord>> {
    return this._nodeStatesChanged;
  }

  /** The socket's state. */
  get state(): ConnectionState {
    return this._state;
  }

  /** Live node states reported by the server, by node id. */
  get nodeStates(): ReadonlyMap<string, JSONRecord> {
    return this._nodeStates;
  }

  /** Connect to a project's events (closing any other link). */
  open(projectId: string): void {
    this.close();
    if (!this._createSocket) {
      return;
    }
    const socket = this._createSocket(projectId);
    this._socket = socket;
    socket.stateChanged.connect(this._onState, this);
    socket.resync.connect(this._onResync, this);
    socket.events.onAny(event => {
      if (socket === this._socket) {
        this._eventArrived.emit(event);
      }
    });
    socket.connect();
  }

  /** Close the link and forget the live node states. */
  close(): void {
    const socket = this._socket;
    this._socket = null;
    socket?.dispose();
    this._setState('closed');
    if (this._nodeStates.size > 0) {
      this._nodeStates = new Map();
      this._nodeStatesChanged.emit(this._nodeStates);
    }
  }

  /** Send a message to the server if connected. */
  send(message: ClientMessage): void {
    this._socket?.send(message);
  }

  /** Reconnect at once instead of waiting for the back-off. */
  reconnectNow(): void {
    this._socket?.reconnectNow();
  }

  /** Record a node's live state. */
  applyNodeState(event: NodeStateUpdated): void {
    const next = new Map(this._nodeStates);
    next.set(event.nodeId, event.state);
    this._nodeStates = next;
    this._nodeStatesChanged.emit(next);
  }

  /** Close the link and disconnect every listener. */
  dispose(): void {
    this.close();
    Signal.clearData(this);
  }

  private _onState(socket: IStudioSocket, state: ConnectionState): void {
    if (socket === this._socket) {
      this._setState(state);
    }
  }

  private _onResync(socket: IStudioSocket, request: IResyncRequest): void {
    if (socket === this._socket) {
      this._resyncRequested.emit(request);
    }
  }

  private _setState(state: ConnectionState): void {
    if (this._state !== state) {
      this._state = state;
      this._stateChanged.emit(state);
    }
  }

  private _createSocket: ((projectId: string) => IStudioSocket) | null;
  private _socket: IStudioSocket | null = null;
  private _state: ConnectionState = 'closed';
  private _nodeStates = new Map<string, JSONRecord>();
  private _stateChanged = new Signal<this, ConnectionState>(this);
  private _eventArrived = new Signal<this, ServerEvent>(this);
  private _resyncRequested = new Signal<this, IResyncRequest>(this);
  private _nodeStatesChanged = new Signal<
    this,
    ReadonlyMap<string, JSONRecord>
  >(this);
}
