/**
 * The workspace trash as the UI sees it: what was deleted (projects, chapters, scenes, shots,
 * takes, assets), restore, delete forever, empty. A small model of its own over `ITrashAPI`.
 */
import { ISignal, Signal } from '@lumino/signaling';

import { ITrashAPI, StudioAPIError } from './api';
import type { ITrashItem } from './types';

/** Who wants to know what came back (to re-read projects, the manifest, the assets). */
export type RestoredCallback = (item: ITrashItem) => void;

/** How an item reads in lists: `Shot "Pier"`, `Take 2`, `Project "Harbour"`, `hero.png`. */
export function trashLabel(item: ITrashItem): string {
  if (item.kind === 'take' || item.kind === 'asset') {
    return item.name;
  }
  const kind = item.kind === 'project' ? 'Project' : (item.nodeKind ?? 'node');
  return `${kind.charAt(0).toUpperCase()}${kind.slice(1)} “${item.name}”`;
}

/** Where an item was: `Harbour › Act 1 › Dawn` (its project first). */
export function trashWhere(item: ITrashItem): string {
  return item.kind === 'project'
    ? ''
    : [item.projectName, ...item.where].join(' › ');
}

/** A byte count as `12 KB`, `3.4 MB`. */
export function formatSize(bytes: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit === 0
    ? `${value} B`
    : `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

/**
 * The trash's items and the actions on them; `changed` fires after every read or action.
 */
export class TrashModel {
  /**
   * @param api - the trash's REST surface
   * @param onRestored - told about each item that came back
   */
  constructor(
    private readonly api: ITrashAPI,
    private readonly onRestored: RestoredCallback = () => undefined
  ) {}

  /** Emitted after the items, the busy state or the error changed. */
  get changed(): ISignal<this, void> {
    return this._changed;
  }

  /** The items, newest first. */
  get items(): readonly ITrashItem[] {
    return this._items;
  }

  /** Days an item stays before it is erased (0: until emptied). */
  get retentionDays(): number {
    return this._retentionDays;
  }

  /** Whether a read or an action is under way. */
  get busy(): boolean {
    return this._busy > 0;
  }

  /**
   * Whether a restore, an erase or an emptying is under way: the buttons wait for it. A re-read
   * (the view shown again, a deletion elsewhere) does not hold them, so a click never lands on
   * a button disabled for a moment by a read in the background.
   */
  get acting(): boolean {
    return this._acting > 0;
  }

  /** The last failure, as a sentence, or null. */
  get error(): string | null {
    return this._error;
  }

  /** Only this project's items (null: every project's). */
  get projectId(): string | null {
    return this._projectId;
  }
  set projectId(value: string | null) {
    if (value !== this._projectId) {
      this._projectId = value;
      void this.refresh();
    }
  }

  /** Re-read the trash. */
  async refresh(): Promise<void> {
    const read = ++this._reads;
    const actions = this._actions;
    const calm = this._acting === 0;
    await this._run(async () => {
      const list = await this.api.listTrash(this._projectId);
      if (read !== this._reads) {
        // a later read (another scope, or after an action) is under way: its answer wins
        return;
      }
      if (!calm || actions !== this._actions) {
        // an action ran meanwhile: this answer may list what it removed; read again (once
        // the actions under way have ended)
        if (this._acting > 0) {
          this._rereadAfterActions = true;
        } else {
          void this.refresh();
        }
        return;
      }
      this._items = list.items;
      this._retentionDays = list.retentionDays;
    });
  }

  /**
   * Put an item back where it was.
   *
   * @returns true when it came back; false (with `error` set) when it could not
   */
  async restore(itemId: string): Promise<boolean> {
    return this._run(async () => {
      const restored = await this.api.restoreTrashItem(itemId);
      this._items = this._items.filter(item => item.id !== itemId);
      this.onRestored(restored.item);
    }, true);
  }

  /** Erase one item for good. */
  async erase(itemId: string): Promise<boolean> {
    return this._run(async () => {
      await this.api.eraseTrashItem(itemId);
      this._items = this._items.filter(item => item.id !== itemId);
    }, true);
  }

  /** Erase every item shown (this project's, or all). */
  async empty(): Promise<boolean> {
    return this._run(async () => {
      const emptied = await this.api.emptyTrash(this._projectId);
      const gone = new Set(emptied.deleted);
      this._items = this._items.filter(item => !gone.has(item.id));
    }, true);
  }

  /** Run a read, or an `action` (a restore, erase or emptying: it holds the buttons). */
  private async _run(
    work: () => Promise<void>,
    action = false
  ): Promise<boolean> {
    this._busy += 1;
    if (action) {
      this._acting += 1;
      this._actions += 1;
    }
    this._error = null;
    this._changed.emit();
    try {
      await work();
      return true;
    } catch (error) {
      this._error =
        error instanceof StudioAPIError || error instanceof Error
          ? error.message
          : String(error);
      if (error instanceof StudioAPIError && error.status === 404) {
        // gone meanwhile (erased elsewhere, or expired): the list is stale
        void this.refresh();
      }
      return false;
    } finally {
      this._busy -= 1;
      if (action) {
        this._acting -= 1;
        if (this._acting === 0 && this._rereadAfterActions) {
          this._rereadAfterActions = false;
          void this.refresh();
        }
      }
      this._changed.emit();
    }
  }

  private _items: ITrashItem[] = [];
  private _retentionDays = 0;
  private _busy = 0;
  private _acting = 0;
  private _actions = 0;
  private _rereadAfterActions = false;
  private _error: string | null = null;
  private _projectId: string | null = null;
  private _reads = 0;
  private _changed = new Signal<this, void>(this);
}
