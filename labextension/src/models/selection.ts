/**
 * What is selected in the studio: the project, a node of its hierarchy, or an asset.
 */
import { ISignal, Signal } from '@lumino/signaling';

import type { SelectionKind } from '../types';

/** A selection: a node of the hierarchy, the project, or an asset (by path). */
export interface ISelection {
  kind: SelectionKind;
  id: string;
}

/** The one selection shared by the tree, the storyboard, the Asset Browser and the Inspector. */
export class SelectionModel {
  /** Emitted when the selection changes (once per change). */
  get changed(): ISignal<this, ISelection | null> {
    return this._changed;
  }

  /** The current selection. */
  get current(): ISelection | null {
    return this._current;
  }

  /** Whether `kind` and `id` are what is selected. */
  is(kind: SelectionKind, id: string): boolean {
    return this._current?.kind === kind && this._current.id === id;
  }

  /** Select a node, the project or an asset; null clears. */
  select(selection: ISelection | null): void {
    const current = this._current;
    if (current?.kind === selection?.kind && current?.id === selection?.id) {
      return;
    }
    this._current = selection ? { ...selection } : null;
    this._changed.emit(this._current);
  }

  /** Disconnect every listener. */
  dispose(): void {
    Signal.clearData(this);
  }

  private _current: ISelection | null = null;
  private _changed = new Signal<this, ISelection | null>(this);
}
