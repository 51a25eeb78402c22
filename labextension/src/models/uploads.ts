/**
 * Files on their way into the asset library: a few at a time, each with its own progress and a
 * way to stop it.
 */
import { ISignal, Signal } from '@lumino/signaling';

import { ClientErrorCodes, IStudioAPI, StudioAPIError } from '../api';
import type { CategoryKey } from '../types';
import type { AssetLibrary } from './assets';
import type { HealthMonitor } from './health';
import type { Notices } from './notices';
import type { ProjectModel } from './projects';

/** A file being uploaded (or recently uploaded) to the asset library. */
export interface IUploadState {
  id: string;
  name: string;
  category: CategoryKey;
  loaded: number;
  total: number;
  status: 'queued' | 'uploading' | 'done' | 'error' | 'cancelled';
  error?: string;
}

/** Bytes in a human unit, e.g. `1.5 MB`. */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value.toFixed(unit === 0 ? 0 : 1)} ${units[unit]}`;
}

/** Options of an `UploadQueue`. */
export interface IUploadQueueOptions {
  /** The REST client. */
  api: IStudioAPI;
  /** Where failures are told to the user. */
  notices: Notices;
  /** The open project. */
  projects: ProjectModel;
  /** The library the uploaded assets join. */
  assets: AssetLibrary;
  /** The workspace config (its upload size limit). */
  health: HealthMonitor;
  /** How many uploads run at once. */
  concurrency: number;
}

/** The uploads of this session. */
export class UploadQueue {
  /**
   * @param options - the REST client, the parts uploads touch, and the concurrency
   */
  constructor(options: IUploadQueueOptions) {
    this._api = options.api;
    this._notices = options.notices;
    this._projects = options.projects;
    this._assets = options.assets;
    this._health = options.health;
    this._concurrency = options.concurrency;
  }

  /** Emitted when an upload starts, progresses or ends. */
  get changed(): ISignal<this, readonly IUploadState[]> {
    return this._changed;
  }

  /** Uploads of this session, oldest first. */
  get all(): readonly IUploadState[] {
    return [...this._entries.values()].map(entry => entry.state);
  }

  /**
   * Upload files into a category of the open project's library, a few at a time, each with its
   * own progress entry.
   */
  async add(category: CategoryKey, files: readonly File[]): Promise<void> {
    const projectId = this._projects.requireId();
    const limit = this._health.config?.maxUploadBytes ?? 0;
    const queue: { id: string; file: File }[] = [];
    for (const file of files) {
      const id = `upload-${++this._counter}`;
      const state: IUploadState = {
        id,
        name: file.name,
        category,
        loaded: 0,
        total: file.size,
        status: 'queued'
      };
      if (limit > 0 && file.size > limit) {
        state.status = 'error';
        state.error = `larger than the ${formatBytes(limit)} limit`;
        this._notices.notify({
          type: 'error',
          message: `${file.name} is ${state.error}`
        });
      } else {
        queue.push({ id, file });
      }
      this._entries.set(id, { state, abort: new AbortController() });
    }
    this._emit();
    const worker = async (): Promise<void> => {
      for (let next = queue.shift(); next; next = queue.shift()) {
        await this._uploadOne(projectId, category, next.id, next.file);
      }
    };
    const workers = Array.from(
      { length: Math.min(this._concurrency, queue.length) },
      worker
    );
    await Promise.all(workers);
  }

  /** Stop an upload that has not finished. */
  cancel(uploadId: string): void {
    const entry = this._entries.get(uploadId);
    if (
      !entry ||
      (entry.state.status !== 'uploading' && entry.state.status !== 'queued')
    ) {
      return;
    }
    entry.abort.abort();
    this._update(uploadId, { status: 'cancelled' });
  }

  /** Forget uploads that are over. */
  clearFinished(): void {
    for (const [id, entry] of this._entries) {
      if (
        entry.state.status !== 'uploading' &&
        entry.state.status !== 'queued'
      ) {
        this._entries.delete(id);
      }
    }
    this._emit();
  }

  /** Stop every upload and disconnect every listener. */
  dispose(): void {
    for (const entry of this._entries.values()) {
      entry.abort.abort();
    }
    Signal.clearData(this);
  }

  private async _uploadOne(
    projectId: string,
    category: CategoryKey,
    id: string,
    file: File
  ): Promise<void> {
    const entry = this._entries.get(id);
    if (!entry || entry.state.status !== 'queued') {
      return;
    }
    this._update(id, { status: 'uploading' });
    try {
      const result = await this._api.uploadFile(
        projectId,
        category,
        file,
        (loaded, total) => this._update(id, { loaded, total }),
        entry.abort.signal
      );
      this._update(id, { status: 'done', loaded: file.size });
      if (this._projects.id === projectId) {
        for (const asset of result.assets ?? []) {
          this._assets.upsert(category, asset);
        }
      }
    } catch (error) {
      if (
        error instanceof StudioAPIError &&
        error.code === ClientErrorCodes.aborted
      ) {
        this._update(id, { status: 'cancelled' });
        return;
      }
      this._update(id, { status: 'error', error: (error as Error).message });
      this._notices.report(error, `Could not upload ${file.name}`);
    }
  }

  private _update(id: string, changes: Partial<IUploadState>): void {
    const entry = this._entries.get(id);
    if (!entry) {
      return;
    }
    if (entry.state.status === 'cancelled' && changes.status !== undefined) {
      return;
    }
    entry.state = { ...entry.state, ...changes };
    this._emit();
  }

  private _emit(): void {
    this._changed.emit(this.all);
  }

  private _api: IStudioAPI;
  private _notices: Notices;
  private _projects: ProjectModel;
  private _assets: AssetLibrary;
  private _health: HealthMonitor;
  private _concurrency: number;
  private _counter = 0;
  private _entries = new Map<
    string,
    { state: IUploadState; abort: AbortController }
  >();
  private _changed = new Signal<this, readonly IUploadState[]>(this);
}
