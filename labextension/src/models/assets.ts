/**
 * The open project's asset library: the files under `01_Assets/`, by category, kept current from
 * asset events and uploads.
 */
import { ISignal, Signal } from '@lumino/signaling';

import type { IStudioAPI } from '../api';
import { Asset, CATEGORY_KEYS, IAssetList } from '../types';
import type { ProjectModel } from './projects';
import type { SelectionModel } from './selection';

/** The list key of a category, whatever case the server used (`Characters` → `characters`). */
export function categoryKey(category: string): string {
  return category.toLowerCase();
}

/** An asset list with the four categories present and lower-case keys. */
export function normalizeAssetList(list: IAssetList): IAssetList {
  const categories: IAssetList['categories'] = {};
  for (const key of CATEGORY_KEYS) {
    categories[key] = [];
  }
  for (const [key, assets] of Object.entries(list.categories ?? {})) {
    const normal = categoryKey(key);
    categories[normal] = [...(categories[normal] ?? []), ...assets];
  }
  return { categories };
}

/** Options of an `AssetLibrary`. */
export interface IAssetLibraryOptions {
  /** The REST client. */
  api: IStudioAPI;
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
    this._list = { categories };
    this._changed.emit(this._list);
  }

  /** Forget the asset at `path` (and unselect it). */
  remove(path: string): void {
    if (!this._list) {
      return;
    }
    const categories: IAssetList['categories'] = {};
    for (const [key, list] of Object.entries(this._list.categories)) {
      categories[key] = list.filter(asset => asset.path !== path);
    }
    this._list = { categories };
    this._changed.emit(this._list);
    if (this._selection.is('asset', path)) {
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
  private _projects: ProjectModel;
  private _selection: SelectionModel;
  private _list: IAssetList | null = null;
  private _changed = new Signal<this, IAssetList | null>(this);
}
