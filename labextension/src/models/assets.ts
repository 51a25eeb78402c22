/**
 * The open project's asset library: the files under `01_Assets/`, by category, kept current from
 * asset events and uploads.
 */
import { ISignal, Signal } from '@lumino/signaling';

import type { IStudioAPI } from '../api';
import { Asset, CATEGORY_KEYS, IAssetList, IAssetMove } from '../types';
import type { Notices } from './notices';
import type { ProjectModel } from './projects';
import type { SelectionModel } from './selection';

/** The list key of a category, whatever case the server used (`Characters` → `characters`). */
export function categoryKey(category: string): string {
  return category.toLowerCase();
}

/** An asset list with the four categories present and lower-case keys. */
export function normalizeAssetList(list: IAssetList): IAssetList {
  const categories: IAssetList['categories'] = {};
  const folders: NonNullable<IAssetList['folders']> = {};
  for (const key of CATEGORY_KEYS) {
    categories[key] = [];
    folders[key] = [];
  }
  for (const [key, assets] of Object.entries(list.categories ?? {})) {
    const normal = categoryKey(key);
    categories[normal] = [...(categories[normal] ?? []), ...assets];
  }
  for (const [key, names] of Object.entries(list.folders ?? {})) {
    const normal = categoryKey(key);
    folders[normal] = [...new Set([...(folders[normal] ?? []), ...names])];
  }
  return { categories, folders };
}

/** Options of an `AssetLibrary`. */
export interface IAssetLibraryOptions {
  /** The REST client. */
  api: IStudioAPI;
  /** Where failures are told to the user. */
  notices: Notices;
  /** The open project. */
  projects: ProjectModel;
  /** The selection, cleared when the selected asset goes. */
  selection: SelectionModel;
}

/** The asset library of the open project. */
export class AssetLibrary {
  /**
   * @param options - the REST client, the project and the selection
   */
  constructor(options: IAssetLibraryOptions) {
    this._api = options.api;
    this._notices = options.notices;
    this._projects = options.projects;
    this._selection = options.selection;
    this._projects.switched.connect(this._reset, this);
  }

  /** Emitted when the library changes. */
  get changed(): ISignal<this, IAssetList | null> {
    return this._changed;
  }

  /** The library, by category (null until read). */
  get list(): IAssetList | null {
    return this._list;
  }

  /** The asset at `path`, if the library has it. */
  byPath(path: string): Asset | null {
    for (const list of Object.values(this._list?.categories ?? {})) {
      const asset = list.find(candidate => candidate.path === path);
      if (asset) {
        return asset;
      }
    }
    return null;
  }

  /** The folders of a category (relative to it), sorted; empty ones too. */
  foldersOf(category: string): string[] {
    const key = categoryKey(category);
    const known = new Set(this._list?.folders?.[key] ?? []);
    for (const asset of this._list?.categories[key] ?? []) {
      if (asset.folder) {
        known.add(asset.folder);
      }
    }
    return [...known].sort((a, b) => a.localeCompare(b));
  }

  /**
   * Rename an asset or move it to another category or folder; shots referencing it follow.
   *
   * @returns the asset at its new place
   */
  async move(path: string, move: IAssetMove): Promise<Asset> {
    const projectId = this._projects.requireId();
    const before = this.byPath(path);
    try {
      const asset = await this._api.moveAsset(projectId, path, move);
      if (asset.path !== path) {
        this.remove(path, false);
      }
      this.upsert(asset.category ?? before?.category ?? '', asset);
      if (this._selection.is('asset', path)) {
        this._selection.select({ kind: 'asset', id: asset.path });
      }
      // shots that referenced it now point at its new place
      void this._projects.refresh().catch(() => undefined);
      return asset;
    } catch (error) {
      this._notices.report(error, `Could not move ${before?.name ?? path}`);
      throw error;
    }
  }

  /** Move an asset (or a folder of them) to the trash; its trash item's id (for Undo). */
  async trash(path: string): Promise<string | null> {
    const projectId = this._projects.requireId();
    const asset = this.byPath(path);
    let deleted: { trashId?: string | null } | null;
    try {
      deleted = await this._api.deleteAsset(projectId, path);
    } catch (error) {
      this._notices.report(error, `Could not delete ${asset?.name ?? path}`);
      throw error;
    }
    this.remove(path);
    return deleted?.trashId ?? null;
  }

  /** Make a folder in a category (its parents too). */
  async makeFolder(category: string, folder: string): Promise<void> {
    const projectId = this._projects.requireId();
    try {
      const made = await this._api.createAssetFolder(
        projectId,
        category,
        folder
      );
      if (this._list) {
        const key = categoryKey(made.category);
        const folders = { ...(this._list.folders ?? {}) };
        folders[key] = [...new Set([...(folders[key] ?? []), made.folder])];
        this._list = { ...this._list, folders };
        this._changed.emit(this._list);
      }
    } catch (error) {
      this._notices.report(error, 'Could not make the folder');
      throw error;
    }
  }

  /** Re-read the open project's library. */
  async refresh(): Promise<void> {
    const projectId = this._projects.id;
    if (!projectId) {
      return;
    }
    const assets = await this._api.listAssets(projectId);
    if (this._projects.id === projectId) {
      this._list = normalizeAssetList(assets);
      this._changed.emit(this._list);
    }
  }

  /** Add an asset, or replace the one at its path. */
  upsert(category: string, asset: Asset): void {
    if (!this._list) {
      return;
    }
    const key = categoryKey(asset.category ?? category);
    const categories = { ...this._list.categories };
    const list = (categories[key] ?? []).filter(
      candidate => candidate.path !== asset.path
    );
    list.push(asset);
    list.sort((a, b) => a.name.localeCompare(b.name));
    categories[key] = list;
    this._list = { ...this._list, categories };
    this._changed.emit(this._list);
  }

  /** Forget the asset at `path` (or the folder's assets), and unselect it. */
  remove(path: string, unselect = true): void {
    if (!this._list) {
      return;
    }
    const inside = (candidate: string): boolean =>
      candidate === path || candidate.startsWith(`${path}/`);
    const categories: IAssetList['categories'] = {};
    for (const [key, list] of Object.entries(this._list.categories)) {
      categories[key] = list.filter(asset => !inside(asset.path));
    }
    const folders: NonNullable<IAssetList['folders']> = {};
    for (const [key, names] of Object.entries(this._list.folders ?? {})) {
      const prefix = `01_Assets/${key[0].toUpperCase()}${key.slice(1)}/`;
      folders[key] = names.filter(name => !inside(prefix + name));
    }
    this._list = { categories, folders };
    this._changed.emit(this._list);
    const selected = this._selection.current;
    if (unselect && selected?.kind === 'asset' && inside(selected.id)) {
      this._selection.select(null);
    }
  }

  /** Disconnect every listener. */
  dispose(): void {
    Signal.clearData(this);
  }

  private _reset(): void {
    this._list = null;
    this._changed.emit(null);
  }

  private _api: IStudioAPI;
  private _notices: Notices;
  private _projects: ProjectModel;
  private _selection: SelectionModel;
  private _list: IAssetList | null = null;
  private _changed = new Signal<this, IAssetList | null>(this);
}
