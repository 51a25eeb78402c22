/**
 * The studio's model: one `StudioModel` composed of smaller models, each with its own signals,
 * so a panel listens only to the part it shows. Only the model talks to the server.
 */
import { IDisposable } from '@lumino/disposable';
import { ISignal, Signal } from '@lumino/signaling';

import type { IStudioAPI } from './api';
import type { ServerEvent } from './events.generated';
import { IResyncRequest, IStudioSocket, ITimers, realTimers } from './socket';
import type { Quality } from './types';
import { AssetLibrary } from './models/assets';
import { Connection } from './models/connection';
import { ExportShelf } from './models/exports';
import { HealthMonitor } from './models/health';
import { IStateStore, StudioMemory } from './models/memory';
import { Notices } from './models/notices';
import { ProjectModel } from './models/projects';
import { ISelection, SelectionModel } from './models/selection';
import { TaskTracker } from './models/tasks';
import { UploadQueue } from './models/uploads';

/** The user's settings (schema/plugin.json). */
export interface IStudioSettings {
  defaultQuality: Quality;
  autoCommit: boolean;
  thumbnailSize: number;
}

/** The defaults of the settings, as in the schema. */
export const DEFAULT_SETTINGS: IStudioSettings = {
  defaultQuality: 'standard',
  autoCommit: false,
  thumbnailSize: 96
};

/** Options of a `StudioModel`. */
export interface IStudioModelOptions {
  /** The REST client. */
  api: IStudioAPI;
  /** Makes the event socket of a project; without it the model works on REST alone. */
  createSocket?: (projectId: string) => IStudioSocket;
  /** The clock for health polling and debouncing. */
  timers?: ITimers;
  /** How often to re-check the server's health while it is fine, and while it is not (ms). */
  healthIntervalMs?: { healthy: number; unhealthy: number };
  /** How many uploads run at once. */
  uploadConcurrency?: number;
  /** Where the user's memory is kept between page loads (the lab's `IStateDB`). */
  state?: IStateStore | null;
}

/**
 * The studio model: the parts below, wired together.
 *
 * - `projects`: the workspace's projects, the open project's manifest and its edits
 * - `selection`: what is selected
 * - `tasks`: the open project's generation tasks and the pipeline registry
 * - `assets`: the open project's asset library
 * - `exports`: the open project's exports for editors
 * - `uploads`: files on their way into the library
 * - `health`: the workspace config and whether the server and its tools answer
 * - `connection`: the open project's event socket
 * - `notices`: messages for the user
 */
export class StudioModel implements IDisposable {
  /**
   * @param options - the REST client, the socket factory and the clock
   */
  constructor(options: IStudioModelOptions) {
    this._api = options.api;
    this._timers = options.timers ?? realTimers;
    this.notices = new Notices();
    this.memory = new StudioMemory(options.state ?? null);
    this.selection = new SelectionModel();
    this.connection = new Connection(options.createSocket ?? null);
    this.health = new HealthMonitor({
      api: this._api,
      timers: this._timers,
      intervalMs: options.healthIntervalMs ?? {
        healthy: 30_000,
        unhealthy: 5_000
      },
      onRecovered: () => this._recover()
    });
    this.projects = new ProjectModel({
      api: this._api,
      notices: this.notices,
      selection: this.selection,
      whenOpened: projectId => this._loadOpened(projectId)
    });
    this.tasks = new TaskTracker({
      api: this._api,
      notices: this.notices,
      projects: this.projects,
      selection: this.selection,
      memory: this.memory
    });
    this.assets = new AssetLibrary({
      api: this._api,
      notices: this.notices,
      projects: this.projects,
      selection: this.selection
    });
    this.exports = new ExportShelf({
      api: this._api,
      notices: this.notices,
      projects: this.projects,
      selection: this.selection
    });
    this.uploads = new UploadQueue({
      api: this._api,
      notices: this.notices,
      projects: this.projects,
      assets: this.assets,
      health: this.health,
      concurrency: options.uploadConcurrency ?? 3
    });

    this.projects.switched.connect(() => this.connection.close());
    this.projects.edited.connect((_, what) => this._afterChange(what));
    this.selection.changed.connect(this._tellSelection, this);
    this.connection.eventArrived.connect((_, event) => this.applyEvent(event));
    this.connection.resyncRequested.connect(this._onResync, this);
  }

  /** The workspace's projects, the open project and its edits. */
  readonly projects: ProjectModel;
  /** What is selected. */
  readonly selection: SelectionModel;
  /** The open project's tasks and the pipeline registry. */
  readonly tasks: TaskTracker;
  /** The open project's asset library. */
  readonly assets: AssetLibrary;
  /** The open project's exports (`06_Exports/`). */
  readonly exports: ExportShelf;
  /** Uploads into the asset library. */
  readonly uploads: UploadQueue;
  /** The workspace config and the health of the server and its tools. */
  readonly health: HealthMonitor;
  /** The open project's event socket. */
  readonly connection: Connection;
  /** Messages for the user. */
  readonly notices: Notices;
  /** What the user's choices leave behind between page loads. */
  readonly memory: StudioMemory;

  /** Emitted when the user's settings change. */
  get settingsChanged(): ISignal<this, IStudioSettings> {
    return this._settingsChanged;
  }

  /** Emitted for every event received on the socket, after the model applied it. */
  get eventReceived(): ISignal<this, ServerEvent> {
    return this._eventReceived;
  }

  /** The user's settings. */
  get settings(): IStudioSettings {
    return this._settings;
  }

  set settings(value: IStudioSettings) {
    this._settings = { ...value };
    this._settingsChanged.emit(this._settings);
  }

  /** Whether the model has been disposed. */
  get isDisposed(): boolean {
    return this._isDisposed;
  }

  /** Read the config, the projects and the pipelines, and keep watching the server's health. */
  async start(): Promise<void> {
    await this.memory.load();
    await this.health.refresh();
    await Promise.all([
      this.projects.load().catch(() => undefined),
      this.tasks.loadPipelines().catch(() => undefined)
    ]);
  }

  /** Re-read everything: the workspace config, the projects and the open project's snapshot. */
  async refresh(): Promise<void> {
    await this.health.refresh();
    await Promise.all([
      this.projects.load().catch(() => undefined),
      this.projects.id ? this.resync().catch(() => undefined) : null
    ]);
  }

  /** Re-read the open project's snapshot: manifest, tasks (seq-merged) and assets. */
  async resync(): Promise<void> {
    await Promise.all([
      this.projects.refresh(),
      this.tasks.refresh(),
      this.assets.refresh(),
      this.exports.refresh()
    ]);
  }

  /** Commit the open project's changes. */
  async commit(message: string): Promise<void> {
    const projectId = this.projects.requireId();
    try {
      const commit = await this._api.commit(projectId, message);
      this.notices.notify({
        type: 'success',
        message: `Committed ${commit.sha.slice(0, 8)}: ${commit.message}`
      });
    } catch (error) {
      this.notices.report(error, 'Could not commit');
      throw error;
    }
  }

  /** The URL of a file of the open project (a take's `file`, for instance). */
  fileUrl(path: string): string {
    const projectId = this.projects.id;
    return projectId ? this._api.fileUrl(projectId, path) : '';
  }

  /** The URL of a server-relative URL (an asset's `url` or `thumbnail`). */
  resolveUrl(url: string): string {
    return this._api.resolveUrl(url);
  }

  /** Apply one server event to the parts of the model (the socket's events come here). */
  applyEvent(event: ServerEvent): void {
    switch (event.type) {
      case 'task_progress':
        this.tasks.applyProgress(event);
        break;
      case 'task_success':
        this.tasks.applySuccess(event);
        this.exports.applySuccess(event);
        break;
      case 'task_failed':
        this.tasks.applyFailure(event);
        break;
      case 'node_state_updated':
        this.connection.applyNodeState(event);
        break;
      case 'project_update':
        if ((event.changes as { resync?: boolean } | null)?.resync) {
          // live events were interrupted: what happened meanwhile is read again
          this._eventsBack();
        } else {
          this.projects.applyUpdate(event);
        }
        break;
      case 'events_unavailable':
        this._eventsInterrupted = true;
        this.notices.notify({ type: 'warning', message: event.message });
        break;
      case 'asset_added':
        this.assets.upsert(event.category, event.asset);
        break;
      case 'asset_removed':
        this.assets.remove(event.path);
        break;
      case 'error':
        this.notices.notify({ type: 'warning', message: event.message });
        break;
      default:
        // hello is handled through the socket's resync signal; pong, selection and panel events
        // from other clients need no state here.
        break;
    }
    this._eventReceived.emit(event);
  }

  /** Close the socket, stop polling and uploads. */
  dispose(): void {
    if (this._isDisposed) {
      return;
    }
    this._isDisposed = true;
    this._timers.clearTimeout(this._commitTimer);
    this.connection.dispose();
    this.health.dispose();
    this.uploads.dispose();
    this.assets.dispose();
    this.exports.dispose();
    this.tasks.dispose();
    this.projects.dispose();
    this.selection.dispose();
    this.notices.dispose();
    Signal.clearData(this);
  }

  /** A newly opened project's manifest is in: read its tasks and assets, then go live. */
  private async _loadOpened(projectId: string): Promise<void> {
    await Promise.all([
      this.tasks.refresh().catch(() => undefined),
      this.assets.refresh().catch(() => undefined),
      this.exports.refresh().catch(() => undefined)
    ]);
    if (this.projects.id === projectId) {
      this.connection.open(projectId);
    }
  }

  /** Back from an outage: re-read everything that may have moved meanwhile. */
  private async _recover(): Promise<void> {
    this.connection.reconnectNow();
    await Promise.all([
      this.projects.load().catch(() => undefined),
      this.tasks.pipelines.length === 0
        ? this.tasks.loadPipelines().catch(() => undefined)
        : null,
      this.projects.id ? this.resync().catch(() => undefined) : null
    ]);
  }

  /** Live events flow again: re-read the open project's snapshot, and say so if we said. */
  private _eventsBack(): void {
    void this.resync().catch(error =>
      this.notices.reportQuietly(error, 'Could not resync')
    );
    if (this._eventsInterrupted) {
      this._eventsInterrupted = false;
      this.notices.notify({ type: 'info', message: 'Live updates are back.' });
    }
  }

  /** Other clients are told which node this one looks at. */
  private _tellSelection(
    _: SelectionModel,
    selection: ISelection | null
  ): void {
    if (
      selection &&
      selection.kind !== 'asset' &&
      selection.kind !== 'export' &&
      selection.kind !== 'project'
    ) {
      this.connection.send({
        type: 'selection_change',
        nodeId: selection.id,
        selection: [selection.id]
      });
    }
  }

  private _onResync(_: Connection, request: IResyncRequest): void {
    // Tasks may have moved between the snapshot and the subscription: always re-read them.
    const stale = this.projects.current?.version !== request.hello.version;
    const reads: Promise<void>[] = [this.tasks.refresh()];
    if (request.reconnect || stale) {
      reads.push(this.projects.refresh());
    }
    if (request.reconnect) {
      reads.push(this.assets.refresh(), this.exports.refresh());
    }
    void Promise.all(reads).catch(error =>
      this.notices.reportQuietly(error, 'Could not resync')
    );
  }

  /** Commit after a change made from the panels when the user asked for it (debounced). */
  private _afterChange(description: string): void {
    if (!this._settings.autoCommit || this.health.config?.autoCommit) {
      return;
    }
    this._pendingCommit.push(description);
    this._timers.clearTimeout(this._commitTimer);
    this._commitTimer = this._timers.setTimeout(() => {
      const message = `studio: ${this._pendingCommit.join('; ')}`;
      this._pendingCommit = [];
      const projectId = this.projects.id;
      if (projectId) {
        void this._api
          .commit(projectId, message)
          .catch(error => console.warn('gms: auto-commit failed', error));
      }
    }, 1000);
  }

  private _api: IStudioAPI;
  private _timers: ITimers;
  private _settings: IStudioSettings = { ...DEFAULT_SETTINGS };
  private _commitTimer: unknown = null;
  private _pendingCommit: string[] = [];
  private _isDisposed = false;
  private _eventsInterrupted = false;
  private _settingsChanged = new Signal<this, IStudioSettings>(this);
  private _eventReceived = new Signal<this, ServerEvent>(this);
}

export { isFinished } from './types';
export * from './models/assets';
export * from './models/connection';
export * from './models/exports';
export * from './models/health';
export * from './models/memory';
export * from './models/notices';
export * from './models/projects';
export * from './models/selection';
export * from './models/tasks';
export * from './models/uploads';
