/**
 * Typed dispatch of the server's WebSocket events: subscribe per event type, parse incoming text.
 */
import { DisposableDelegate, IDisposable } from '@lumino/disposable';

import type { ServerEvent } from './events.generated';

export type * from './events.generated';

/** The `type` tag of every server event. */
export type ServerEventType = ServerEvent['type'];

/** The event interface whose tag is `K`, e.g. `ServerEventOf<'task_progress'>`. */
export type ServerEventOf<K extends ServerEventType> = Extract<
  ServerEvent,
  { type: K }
>;

/** A handler of one event type. */
export type ServerEventHandler<K extends ServerEventType> = (
  event: ServerEventOf<K>
) => void;

/**
 * Every tag of the generated union; the mapped type makes the compiler fail when the Python side
 * adds an event that this list does not know.
 */
const KNOWN_TYPES: { readonly [K in ServerEventType]: true } = {
  hello: true,
  task_progress: true,
  task_success: true,
  task_failed: true,
  node_state_updated: true,
  project_update: true,
  asset_added: true,
  asset_removed: true,
  selection_change: true,
  panel_resize: true,
  pong: true,
  error: true,
  events_unavailable: true
};

/** True when `type` is the tag of a server event this client understands. */
export function isServerEventType(type: unknown): type is ServerEventType {
  return (
    typeof type === 'string' &&
    Object.prototype.hasOwnProperty.call(KNOWN_TYPES, type)
  );
}

/**
 * Parse one WebSocket message.
 *
 * @returns the event, or null when the text is not JSON or not a known event
 */
export function parseServerEvent(text: string): ServerEvent | null {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    return null;
  }
  if (data === null || typeof data !== 'object' || Array.isArray(data)) {
    return null;
  }
  const type = (data as { type?: unknown }).type;
  return isServerEventType(type) ? (data as ServerEvent) : null;
}

/**
 * Routes server events to the handlers subscribed to their type.
 *
 * A handler that throws is logged and does not stop the others.
 */
export class EventDispatcher implements IDisposable {
  private _handlers = new Map<
    ServerEventType,
    Set<(event: ServerEvent) => void>
  >();
  private _any = new Set<(event: ServerEvent) => void>();
  private _isDisposed = false;

  /**
   * Call `handler` for each event of type `type`.
   *
   * @returns a disposable that unsubscribes
   */
  on<K extends ServerEventType>(
    type: K,
    handler: ServerEventHandler<K>
  ): IDisposable {
    let set = this._handlers.get(type);
    if (!set) {
      set = new Set();
      this._handlers.set(type, set);
    }
    const wrapped = handler as (event: ServerEvent) => void;
    set.add(wrapped);
    return new DisposableDelegate(() => {
      set.delete(wrapped);
    });
  }

  /**
   * Call `handler` for every event, whatever its type.
   *
   * @returns a disposable that unsubscribes
   */
  onAny(handler: (event: ServerEvent) => void): IDisposable {
    this._any.add(handler);
    return new DisposableDelegate(() => {
      this._any.delete(handler);
    });
  }

  /** Deliver an event to the handlers of its type, then to the catch-all handlers. */
  dispatch(event: ServerEvent): void {
    if (this._isDisposed) {
      return;
    }
    const handlers = [...(this._handlers.get(event.type) ?? []), ...this._any];
    for (const handler of handlers) {
      try {
        handler(event);
      } catch (error) {
        console.error(`gms: a handler of ${event.type} failed`, error);
      }
    }
  }

  /** Whether the dispatcher has been disposed. */
  get isDisposed(): boolean {
    return this._isDisposed;
  }

  /** Drop every subscription. */
  dispose(): void {
    this._isDisposed = true;
    this._handlers.clear();
    this._any.clear();
  }
}
