/**
 * Messages for the user, shared by every part of the model; the plugin shows them with
 * JupyterLab's `Notification`.
 */
import { ISignal, Signal } from '@lumino/signaling';

import { StudioAPIError } from '../api';

/** A message for the user. */
export interface INotice {
  /** `in-progress` stays until a notice with the same `key` replaces it. */
  type: 'info' | 'success' | 'warning' | 'error' | 'in-progress';
  message: string;
  actions?: { label: string; callback: () => void }[];
  /**
   * What the notice is about (a task id): a later notice with the same key replaces this one
   * where it is shown, so "Exporting…" becomes "… is ready" instead of a second toast.
   */
  key?: string;
}

/**
 * How long a notice's toast stays (ms; false: until it is replaced or closed). A notice that
 * offers actions (Play, Open, Undo) stays long enough to be acted on, not the few seconds a
 * plain one does: by the time someone turns to it, a five-second toast was gone. Every notice
 * stays in the notification centre afterwards.
 */
export function toastLifetime(notice: INotice): number | false {
  if (notice.type === 'in-progress') {
    return false;
  }
  const plain = notice.type === 'error' ? 10_000 : 5_000;
  return notice.actions?.length ? Math.max(plain, 20_000) : plain;
}

/** Where the parts of the model send what the user should hear about. */
export class Notices {
  /** Emitted for each message to show the user. */
  get notified(): ISignal<this, INotice> {
    return this._notified;
  }

  /**
   * Send a message to the user. An `in-progress` notice about something whose end was told
   * already is dropped: a quick task can end before its caller announces it ("Exporting…"
   * must not replace "… is ready").
   */
  notify(notice: INotice): void {
    if (notice.key) {
      if (notice.type === 'in-progress' && this._ended.has(notice.key)) {
        return;
      }
      this._keys.add(notice.key);
      if (notice.type !== 'in-progress') {
        this._ended.add(notice.key);
      }
    }
    this._notified.emit(notice);
  }

  /** Whether a notice with this key was sent (the task it names was announced). */
  has(key: string): boolean {
    return this._keys.has(key);
  }

  /** Whether the task this key names was announced here and its end not told yet. */
  awaiting(key: string): boolean {
    return this._keys.has(key) && !this._ended.has(key);
  }

  /** Tell the user what failed, with the server's message. */
  report(error: unknown, context: string): void {
    const message =
      error instanceof StudioAPIError || error instanceof Error
        ? error.message
        : String(error);
    this.notify({ type: 'error', message: `${context}: ${message}` });
  }

  /** Conflicts are the caller's to present (Reload / Overwrite); everything else is reported. */
  reportUnlessConflict(error: unknown, context: string): void {
    if (!(error instanceof StudioAPIError && error.isConflict)) {
      this.report(error, context);
    }
  }

  /** Network failures are shown by the health banner, not by a toast each. */
  reportQuietly(error: unknown, context: string): void {
    if (error instanceof StudioAPIError && error.isNetwork) {
      return;
    }
    this.report(error, context);
  }

  /** Disconnect every listener. */
  dispose(): void {
    Signal.clearData(this);
  }

  private _notified = new Signal<this, INotice>(this);
  private _keys = new Set<string>();
  private _ended = new Set<string>();
}
