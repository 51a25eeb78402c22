/**
 * The studio's one model: server state (config, projects, the open project, tasks, assets,
 * uploads, connection) behind signals. Panels read it and call its methods; only the model talks
 * to the server.
 */
import { IDisposable } from '@lumino/disposable';
import { ISignal, Signal } from '@lumino/signaling';

import { ClientErrorCodes, IStudioAPI, StudioAPIError } from './api';
import type {
  NodeStateUpdated,
  ProjectUpdate,
  ServerEvent,
  TaskFailed,
  TaskProgress,
  TaskSuccess
} from './events.generated';
import { allNodeIds, findNode, takeLabel } from './hierarchy';
import {
  ConnectionState,
  IResyncRequest,
  IStudioSocket,
  ITimers,
  realTimers
} from './socket';
import {
  Asset,
  CATEGORY_KEYS,
  CategoryKey,
  CreatableKind,
  IAssetList,
  INodeInfo,
  INodePatch,
  IPipeline,
  IProject,
  IProjectPatch,
  IProjectSummary,
  ITaskRecord,
  IWorkspaceConfig,
  JSONRecord,
  Quality,
  SelectionKind,
  isFinished
} from './types';

/** What is selected in the studio: a node of the hierarchy, the project, or an asset (by path). */
export interface ISelection {
  kind: SelectionKind;
  id: string;
}

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

/** Whether the server and the tools behind it answer. */
export interface IHealth {
  /** False when the server itself cannot be reached. */
  reachable: boolean;
  /** Tools that report a problem, e.g. `{tool: 'redis', message: 'connection refused'}`. */
  problems: { tool: string; message: string }[];
}

/** A message for the user; the plugin shows it with JupyterLab's `Notification`. */
export interface INotice {
  type: 'info' | 'success' | 'warning' | 'error';
  message: string;
  actions?: { label: string; callback: () => void }[];
}

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
}

/**
 * Whether a task works on a file of the project rather than on a node of its hierarchy: the
 * server makes asset thumbnails with tasks whose `nodeId` is the file's relative path. They are
 * housekeeping, not generations: no notice, no row in the Progress panel.
 */
export function isFileTask(task: {
  nodeId: string;
  pipeline?: string;
}): boolean {
  return task.pipeline === 'thumbnail' || task.nodeId.includes('/');
}

/** Tools whose failure stops generation; the others only degrade it. */
export const CRITICAL_TOOLS = new Set(['redis', 'worker']);

/**
 * The studio model.
 *
 * Live task events carry a per-task `seq`: an event is applied only when its seq is newer than the
 * one the model knows for that task, so replays after a reconnect and late events are harmless.
 */
export class StudioModel implements IDisposable {
  /**
   * @param options - the REST client, the socket factory and the clock
   */
  constructor(options: IStudioModelOptions) {
    this._api = options.api;
    this._createSocket = options.createSocket ?? null;
    this._timers = options.timers ?? realTimers;
    this._healthInterval = options.healthIntervalMs ?? {
      healthy: 30_000,
      unhealthy: 5_000
    };
    this._uploadConcurrency = options.uploadConcurrency ?? 3;
  }

  // --- signals ------------------------------------------------------------------------------

  /** Emitted when the workspace config (and with it the tool health) is re-read. */
  get configChanged(): ISignal<this, IWorkspaceConfig | null> {
    return this._configChanged;
  }

  /** Emitted when the server's reachability or a tool's health changes. */
  get healthChanged(): ISignal<this, IHealth> {
    return this._healthChanged;
  }

  /** Emitted when the project list changes. */
  get projectsChanged(): ISignal<this, IProjectSummary[]> {
    return this._projectsChanged;
  }

  /** Emitted when the open project (its manifest) changes, or another project is opened. */
  get projectChanged(): ISignal<this, IProject | null> {
    return this._projectChanged;
  }

  /** Emitted when the selection changes. */
  get selectionChanged(): ISignal<this, ISelection | null> {
    return this._selectionChanged;
  }

  /** Emitted when a task is added or changes. */
  get tasksChanged(): ISignal<this, ReadonlyMap<string, ITaskRecord>> {
    return this._tasksChanged;
  }

  /** Emitted when an upload starts, progresses or ends. */
  get uploadsChanged(): ISignal<this, readonly IUploadState[]> {
    return this._uploadsChanged;
  }

  /** Emitted when the asset library changes. */
  get assetsChanged(): ISignal<this, IAssetList | null> {
    return this._assetsChanged;
  }

  /** Emitted when the event socket's state changes. */
  get connectionChanged(): ISignal<this, ConnectionState> {
    return this._connectionChanged;
  }

  /** Emitted when the server reports a node's live state (e.g. a take generating). */
  get nodeStatesChanged(): ISignal<this, ReadonlyMap<string, JSONRecord>> {
    return this._nodeStatesChanged;
  }

  /** Emitted when the pipeline registry is read. */
  get pipelinesChanged(): ISignal<this, readonly IPipeline[]> {
    return this._pipelinesChanged;
  }

  /** Emitted when the user's settings change. */
  get settingsChanged(): ISignal<this, IStudioSettings> {
    return this._settingsChanged;
  }

  /** Emitted for each message to show the user. */
  get notified(): ISignal<this, INotice> {
    return this._notified;
  }

  /** Emitted for every event received on the socket, after the model applied it. */
  get eventReceived(): ISignal<this, ServerEvent> {
    return this._eventReceived;
  }

  // --- state --------------------------------------------------------------------------------

  /** The workspace config, once read. */
  get config(): IWorkspaceConfig | null {
    return this._config;
  }

  /** Whether the server and its tools answer. */
  get health(): IHealth {
    return this._health;
  }

  /** The projects of the workspace. */
  get projects(): IProjectSummary[] {
    return this._projects;
  }

  /** The open project's manifest. */
  get project(): IProject | null {
    return this._project;
  }

  /** The id of the open (or opening) project. */
  get projectId(): string | null {
    return this._projectId;
  }

  /** The current selection. */
  get selection(): ISelection | null {
    return this._selection;
  }

  /** The open project's tasks by id. */
  get tasks(): ReadonlyMap<string, ITaskRecord> {
    return this._tasks;
  }

  /** Uploads of this session, oldest first. */
  get uploads(): readonly IUploadState[] {
    return [...this._uploads.values()].map(entry => entry.state);
  }

  /** The open project's asset library. */
  get assets(): IAssetList | null {
    return this._assets;
  }

  /** The event socket's state. */
  get connection(): ConnectionState {
    return this._connection;
  }

  /** Live node states reported by the server, by node id. */
  get nodeStates(): ReadonlyMap<string, JSONRecord> {
    return this._nodeStates;
  }

  /** The pipeline registry. */
  get pipelines(): readonly IPipeline[] {
    return this._pipelines;
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

  // --- start and health ---------------------------------------------------------------------

  /** Read the config, the projects and the pipelines, and keep watching the server's health. */
  async start(): Promise<void> {
    await this.refreshConfig();
    await Promise.all([
      this.loadProjects().catch(() => undefined),
      this.loadPipelines().catch(() => undefined)
    ]);
  }

  /**
   * Re-read the workspace config; it carries the health of git, Redis, the worker and Docker.
   * Schedules the next check (sooner while something is wrong) and recovers when the server
   * comes back.
   */
  async refreshConfig(): Promise<void> {
    this._timers.clearTimeout(this._healthTimer);
    const wasReachable = this._health.reachable;
    const hadCritical = this._health.problems.some(p =>
      CRITICAL_TOOLS.has(p.tool)
    );
    try {
      const config = await this._api.getWorkspaceConfig();
      this._config = config;
      this._configChanged.emit(config);
      const problems = Object.entries(config.health ?? {})
        .filter(([, health]) => !health.ok)
        .map(([tool, health]) => ({
          tool,
          message: health.message || 'not available'
        }));
      this._setHealth({ reachable: true, problems });
    } catch (error) {
      const unreachable =
        error instanceof StudioAPIError
          ? error.isNetwork || error.status >= 500
          : true;
      this._setHealth({
        reachable: !unreachable,
        problems: unreachable
          ? []
          : [{ tool: 'server', message: (error as Error).message }]
      });
    }
    if (this._isDisposed) {
      return;
    }
    const healthy =
      this._health.reachable && this._health.problems.length === 0;
    this._healthTimer = this._timers.setTimeout(
      () => void this.refreshConfig(),
      healthy ? this._healthInterval.healthy : this._healthInterval.unhealthy
    );
    const hasCritical = this._health.problems.some(p =>
      CRITICAL_TOOLS.has(p.tool)
    );
    if (
      (!wasReachable && this._health.reachable) ||
      (hadCritical && !hasCritical)
    ) {
      // Back from an outage: re-read everything that may have moved meanwhile.
      this._socket?.reconnectNow();
      await Promise.all([
        this.loadProjects().catch(() => undefined),
        this._pipelines.length === 0
          ? this.loadPipelines().catch(() => undefined)
          : null,
        this._projectId ? this.resync().catch(() => undefined) : null
      ]);
    }
  }

  /** Re-read the project list. */
  async loadProjects(): Promise<void> {
    try {
      const list = await this._api.listProjects();
      this._projects = list.projects;
      this._projectsChanged.emit(this._projects);
    } catch (error) {
      this._reportQuietly(error, 'Could not list the projects');
      throw error;
    }
  }

  /** Read the pipeline registry. */
  async loadPipelines(): Promise<void> {
    const list = await this._api.listPipelines();
    this._pipelines = list.pipelines;
    this._pipelinesChanged.emit(this._pipelines);
  }

  // --- projects -----------------------------------------------------------------------------

  /**
   * Open a project (or close the open one with null): read its manifest, tasks and assets, and
   * connect its event socket.
   */
  async openProject(projectId: string | null): Promise<void> {
    if (
      projectId === this._projectId &&
      (projectId === null || this._project)
    ) {
      return;
    }
    this._closeSocket();
    this._projectId = projectId;
    this._project = null;
    this._tasks = new Map();
    this._nodeStates = new Map();
    this._assets = null;
    this._selection = null;
    this._projectChanged.emit(null);
    this._tasksChanged.emit(this._tasks);
    this._nodeStatesChanged.emit(this._nodeStates);
    this._assetsChanged.emit(null);
    this._selectionChanged.emit(null);
    if (projectId === null) {
      return;
    }
    try {
      const project = await this._api.getProject(projectId);
      if (this._projectId !== projectId) {
        return;
      }
      this._setProject(project);
      this.select({ kind: 'project', id: project.id });
    } catch (error) {
      if (this._projectId === projectId) {
        this._projectId = null;
      }
      this._report(error, `Could not open project ${projectId}`);
      throw error;
    }
    await Promise.all([
      this.refreshTasks().catch(() => undefined),
      this.refreshAssets().catch(() => undefined)
    ]);
    this._openSocket(projectId);
  }

  /** Create a project and open it. */
  async createProject(name: string, quality: Quality): Promise<IProject> {
    try {
      const project = await this._api.createProject({ name, quality });
      await this.loadProjects().catch(() => undefined);
      await this.openProject(project.id);
      this._notify({
        type: 'success',
        message: `Project "${project.name}" created`
      });
      return project;
    } catch (error) {
      this._report(error, 'Could not create the project');
      throw error;
    }
  }

  /** Delete a project (closing it when it is open). */
  async deleteProject(projectId: string): Promise<void> {
    try {
      await this._api.deleteProject(projectId);
    } catch (error) {
      this._report(error, 'Could not delete the project');
      throw error;
    }
    if (this._projectId === projectId) {
      await this.openProject(null);
    }
    await this.loadProjects().catch(() => undefined);
  }

  /** Re-read the open project's manifest (concurrent calls share one request). */
  refreshProject(): Promise<void> {
    if (!this._projectId) {
      return Promise.resolve();
    }
    if (!this._projectRefresh) {
      const projectId = this._projectId;
      this._projectRefresh = this._api
        .getProject(projectId)
        .then(project => {
          if (this._projectId === projectId) {
            this._setProject(project);
          }
        })
        .catch(error => {
          if (error instanceof StudioAPIError && error.status === 404) {
            this._notify({
              type: 'warning',
              message: `Project ${projectId} no longer exists`
            });
            void this.openProject(null);
            void this.loadProjects().catch(() => undefined);
            return;
          }
          throw error;
        })
        .finally(() => {
          this._projectRefresh = null;
        });
    }
    return this._projectRefresh;
  }

  /** Re-read the snapshot after a reconnect: manifest, tasks (seq-merged) and assets. */
  async resync(): Promise<void> {
    await Promise.all([
      this.refreshProject(),
      this.refreshTasks(),
      this.refreshAssets()
    ]);
  }

  /**
   * Save project fields with `If-Match`.
   *
   * @param version - the manifest version the edit started from; a stale one answers 409
   * @throws StudioAPIError with `isConflict` when the project changed meanwhile
   */
  async saveProject(patch: IProjectPatch, version: number): Promise<void> {
    const projectId = this._requireProject();
    try {
      const project = await this._api.patchProject(projectId, patch, version);
      this._setProject(project);
      this._afterChange(`update project ${project.name}`);
      void this.loadProjects().catch(() => undefined);
    } catch (error) {
      this._reportUnlessConflict(error, 'Could not save the project');
      throw error;
    }
  }

  // --- nodes --------------------------------------------------------------------------------

  /** Add a chapter (parent null), scene or shot, and select it. */
  async addNode(
    kind: CreatableKind,
    parentId: string | null,
    name: string,
    extra: { properties?: JSONRecord; duration?: number; index?: number } = {}
  ): Promise<INodeInfo> {
    const projectId = this._requireProject();
    try {
      const info = await this._api.createNode(projectId, {
        kind,
        parentId,
        name,
        ...extra
      });
      await this.refreshProject();
      this.select({ kind, id: info.id });
      this._afterChange(`add ${kind} ${name}`);
      return info;
    } catch (error) {
      this._report(error, `Could not add the ${kind}`);
      throw error;
    }
  }

  /**
   * Change a node: rename, properties, duration, selected take, or move it.
   *
   * @param version - when given, sent as `If-Match` (the inspector does; quick tree edits do not)
   * @throws StudioAPIError with `isConflict` when `version` is stale
   */
  async patchNode(
    nodeId: string,
    patch: INodePatch,
    version?: number
  ): Promise<void> {
    const projectId = this._requireProject();
    try {
      await this._api.patchNode(projectId, nodeId, patch, version);
      await this.refreshProject();
      this._afterChange(
        `update ${findNode(this._project, nodeId)?.name ?? nodeId}`
      );
    } catch (error) {
      this._reportUnlessConflict(error, 'Could not save the change');
      throw error;
    }
  }

  /** Rename a node. */
  renameNode(nodeId: string, name: string): Promise<void> {
    return this.patchNode(nodeId, { name });
  }

  /** Move a node under `parentId` at position `index`. */
  moveNode(
    nodeId: string,
    parentId: string | null,
    index: number
  ): Promise<void> {
    return this.patchNode(nodeId, { parentId, index });
  }

  /** Make `takeId` the shot's selected take. */
  selectTake(shotId: string, takeId: string): Promise<void> {
    return this.patchNode(shotId, { selectedTake: takeId });
  }

  /** Delete a node and everything under it. */
  async deleteNode(nodeId: string): Promise<void> {
    const projectId = this._requireProject();
    const node = findNode(this._project, nodeId);
    try {
      await this._api.deleteNode(projectId, nodeId);
      if (this._selection?.id === nodeId) {
        const parent = node?.parentId;
        this.select(
          parent
            ? {
                kind: findNode(this._project, parent)?.kind ?? 'project',
                id: parent
              }
            : { kind: 'project', id: projectId }
        );
      }
      await this.refreshProject();
      this._afterChange(
        `delete ${node?.kind ?? 'node'} ${node?.name ?? nodeId}`
      );
    } catch (error) {
      this._report(error, 'Could not delete');
      throw error;
    }
  }

  // --- selection ----------------------------------------------------------------------------

  /** Select a node, the project or an asset (null clears); other clients are told. */
  select(selection: ISelection | null): void {
    const current = this._selection;
    if (current?.kind === selection?.kind && current?.id === selection?.id) {
      return;
    }
    this._selection = selection ? { ...selection } : null;
    this._selectionChanged.emit(this._selection);
    if (
      selection &&
      selection.kind !== 'asset' &&
      selection.kind !== 'project'
    ) {
      this._socket?.send({
        type: 'selection_change',
        nodeId: selection.id,
        selection: [selection.id]
      });
    }
  }

  // --- tasks --------------------------------------------------------------------------------

  /**
   * Ask for a take of a shot.
   *
   * @returns the task id
   */
  async generateTake(
    shotId: string,
    pipeline: string,
    parameters: JSONRecord = {}
  ): Promise<string> {
    const projectId = this._requireProject();
    try {
      const { taskId } = await this._api.submitTask({
        projectId,
        nodeId: shotId,
        pipeline,
        parameters
      });
      if (!this._tasks.has(taskId)) {
        this._tasks.set(taskId, {
          taskId,
          projectId,
          nodeId: shotId,
          pipeline,
          parameters,
          status: 'pending',
          progress: 0,
          step: 'queued',
          seq: 0,
          result: null,
          error: null,
          created: new Date().toISOString()
        });
        this._emitTasks();
      }
      return taskId;
    } catch (error) {
      this._report(error, 'Could not start the generation');
      throw error;
    }
  }

  /** Cancel a task; its end arrives as an event. */
  async cancelTask(taskId: string): Promise<void> {
    try {
      await this._api.cancelTask(taskId);
    } catch (error) {
      this._report(error, 'Could not cancel the task');
      throw error;
    }
  }

  /** Start a new task with the same shot, pipeline and parameters as `taskId`. */
  async retryTask(taskId: string): Promise<string> {
    let task = this._tasks.get(taskId);
    if (!task?.pipeline) {
      // Known from events only: read what it asked for.
      await this._fetchTask(taskId);
      task = this._tasks.get(taskId);
    }
    if (!task?.pipeline) {
      const error = new Error(`Task ${taskId} is unknown`);
      this._report(error, 'Could not retry');
      throw error;
    }
    return this.generateTake(task.nodeId, task.pipeline, task.parameters);
  }

  /** Re-read the open project's tasks and merge them by seq. */
  async refreshTasks(): Promise<void> {
    const projectId = this._projectId;
    if (!projectId) {
      return;
    }
    const list = await this._api.listTasks(projectId);
    if (this._projectId === projectId) {
      this.applyTaskSnapshot(list.tasks);
    }
  }

  /**
   * Merge task records read from the server: a record replaces the known task unless the known
   * one is newer (a live event overtook the snapshot).
   */
  applyTaskSnapshot(records: ITaskRecord[]): void {
    let changed = false;
    for (const record of records) {
      const known = this._tasks.get(record.taskId);
      if (known && known.seq > record.seq) {
        // The live state is newer; still take what events never carry (what was asked for).
        this._tasks.set(record.taskId, {
          ...known,
          pipeline: known.pipeline || record.pipeline,
          parameters: record.parameters ?? known.parameters,
          created: record.created ?? known.created,
          started: known.started ?? record.started,
          tier: record.tier ?? known.tier,
          runner: record.runner ?? known.runner
        });
      } else {
        this._tasks.set(record.taskId, { ...known, ...record });
      }
      changed = true;
    }
    if (changed) {
      this._emitTasks();
    }
  }

  /** The tasks of a shot, newest first. */
  tasksOf(nodeId: string): ITaskRecord[] {
    return [...this._tasks.values()]
      .filter(task => task.nodeId === nodeId)
      .sort((a, b) => b.created.localeCompare(a.created));
  }

  // --- assets and uploads -------------------------------------------------------------------

  /** Re-read the open project's asset library. */
  async refreshAssets(): Promise<void> {
    const projectId = this._projectId;
    if (!projectId) {
      return;
    }
    const assets = await this._api.listAssets(projectId);
    if (this._projectId === projectId) {
      this._assets = normalizeAssetList(assets);
      this._assetsChanged.emit(this._assets);
    }
  }

  /** The asset at `path`, if the library has it. */
  assetByPath(path: string): Asset | null {
    for (const list of Object.values(this._assets?.categories ?? {})) {
      const asset = list.find(candidate => candidate.path === path);
      if (asset) {
        return asset;
      }
    }
    return null;
  }

  /**
   * Upload files into a category of the open project's library, a few at a time, each with its
   * own progress entry.
   */
  async upload(category: CategoryKey, files: readonly File[]): Promise<void> {
    const projectId = this._requireProject();
    const limit = this._config?.maxUploadBytes ?? 0;
    const queue: { id: string; file: File }[] = [];
    for (const file of files) {
      const id = `upload-${++this._uploadCounter}`;
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
        this._notify({
          type: 'error',
          message: `${file.name} is ${state.error}`
        });
      } else {
        queue.push({ id, file });
      }
      this._uploads.set(id, { state, abort: new AbortController() });
    }
    this._emitUploads();
    const worker = async (): Promise<void> => {
      for (let next = queue.shift(); next; next = queue.shift()) {
        await this._uploadOne(projectId, category, next.id, next.file);
      }
    };
    const workers = Array.from(
      { length: Math.min(this._uploadConcurrency, queue.length) },
      worker
    );
    await Promise.all(workers);
  }

  /** Stop an upload that has not finished. */
  cancelUpload(uploadId: string): void {
    const entry = this._uploads.get(uploadId);
    if (
      !entry ||
      (entry.state.status !== 'uploading' && entry.state.status !== 'queued')
    ) {
      return;
    }
    entry.abort.abort();
    this._updateUpload(uploadId, { status: 'cancelled' });
  }

  /** Forget uploads that are over. */
  clearFinishedUploads(): void {
    for (const [id, entry] of this._uploads) {
      if (
        entry.state.status !== 'uploading' &&
        entry.state.status !== 'queued'
      ) {
        this._uploads.delete(id);
      }
    }
    this._emitUploads();
  }

  // --- version control ----------------------------------------------------------------------

  /** Commit the open project's changes. */
  async commit(message: string): Promise<void> {
    const projectId = this._requireProject();
    try {
      const commit = await this._api.commit(projectId, message);
      this._notify({
        type: 'success',
        message: `Committed ${commit.sha.slice(0, 8)}: ${commit.message}`
      });
    } catch (error) {
      this._report(error, 'Could not commit');
      throw error;
    }
  }

  // --- URLs ---------------------------------------------------------------------------------

  /** The URL of a file of the open project (a take's `file`, for instance). */
  fileUrl(path: string): string {
    return this._projectId ? this._api.fileUrl(this._projectId, path) : '';
  }

  /** The URL of a server-relative URL (an asset's `url` or `thumbnail`). */
  resolveUrl(url: string): string {
    return this._api.resolveUrl(url);
  }

  // --- events -------------------------------------------------------------------------------

  /** Apply one server event to the model (the socket calls this; tests may too). */
  applyEvent(event: ServerEvent): void {
    switch (event.type) {
      case 'task_progress':
        this._applyTaskProgress(event);
        break;
      case 'task_success':
        this._applyTaskSuccess(event);
        break;
      case 'task_failed':
        this._applyTaskFailed(event);
        break;
      case 'node_state_updated':
        this._applyNodeState(event);
        break;
      case 'project_update':
        this._applyProjectUpdate(event);
        break;
      case 'asset_added':
        this._upsertAsset(event.category, event.asset);
        break;
      case 'asset_removed':
        this._removeAsset(event.category, event.path);
        break;
      case 'error':
        this._notify({ type: 'warning', message: event.message });
        break;
      default:
        // hello is handled through the socket's resync signal; pong, selection and panel events
        // from other clients need no state here.
        break;
    }
    this._eventReceived.emit(event);
  }

  /** Close the socket and stop polling. */
  dispose(): void {
    if (this._isDisposed) {
      return;
    }
    this._isDisposed = true;
    this._closeSocket();
    this._timers.clearTimeout(this._healthTimer);
    this._timers.clearTimeout(this._commitTimer);
    for (const entry of this._uploads.values()) {
      entry.abort.abort();
    }
    Signal.clearData(this);
  }

  // --- private ------------------------------------------------------------------------------

  private _applyTaskProgress(event: TaskProgress): void {
    this._applyTask(event.taskId, event.seq, event.nodeId, {
      status: event.status,
      progress: event.progress,
      step: event.step,
      ...(event.pipeline ? { pipeline: event.pipeline } : {})
    });
  }

  private _applyTaskSuccess(event: TaskSuccess): void {
    const applied = this._applyTask(event.taskId, event.seq, event.nodeId, {
      status: 'completed',
      progress: 1,
      step: 'done',
      result: event.result,
      takeId: event.result.takeId ?? null,
      finished: new Date().toISOString()
    });
    if (!applied || isFileTask(this._tasks.get(event.taskId) ?? event)) {
      return;
    }
    // The take is registered in project.json: show it.
    void this.refreshProject()
      .then(() => {
        const shot = findNode(this._project, event.nodeId);
        const take = event.result.takeId
          ? findNode(this._project, event.result.takeId)
          : null;
        const label =
          take?.shot && take.take
            ? takeLabel(take.shot, take.take)
            : 'A new take';
        this._notify({
          type: 'success',
          message: `${label} of ${shot?.name ?? 'the shot'} is ready`,
          actions: [
            {
              label: 'Show',
              callback: () =>
                this.select(
                  take
                    ? { kind: 'take', id: take.id }
                    : { kind: 'shot', id: event.nodeId }
                )
            }
          ]
        });
      })
      .catch(() => undefined);
  }

  private _applyTaskFailed(event: TaskFailed): void {
    const applied = this._applyTask(event.taskId, event.seq, event.nodeId, {
      status: event.cancelled ? 'cancelled' : 'error',
      error: event.error,
      step: event.cancelled ? 'cancelled' : 'failed',
      finished: new Date().toISOString()
    });
    if (!applied) {
      return;
    }
    if (isFileTask(this._tasks.get(event.taskId) ?? event)) {
      console.warn(`gms: no thumbnail for ${event.nodeId}: ${event.error}`);
      return;
    }
    void this.refreshProject().catch(() => undefined);
    const shot = findNode(this._project, event.nodeId);
    if (event.cancelled) {
      this._notify({
        type: 'info',
        message: `Generation for ${shot?.name ?? 'a shot'} cancelled`
      });
      return;
    }
    this._notify({
      type: 'error',
      message: `Generation for ${shot?.name ?? 'a shot'} failed: ${event.error}`,
      actions: [
        {
          label: 'Retry',
          callback: () =>
            void this.retryTask(event.taskId).catch(() => undefined)
        }
      ]
    });
  }

  /**
   * Apply a task event unless it is not newer than what is known.
   *
   * @returns whether the event was applied
   */
  private _applyTask(
    taskId: string,
    seq: number,
    nodeId: string,
    changes: Partial<ITaskRecord>
  ): boolean {
    const known = this._tasks.get(taskId);
    if (known && seq <= known.seq) {
      return false;
    }
    const base: ITaskRecord = known ?? {
      taskId,
      projectId: this._projectId ?? '',
      nodeId,
      pipeline: '',
      parameters: {},
      status: 'pending',
      progress: 0,
      step: '',
      seq: 0,
      result: null,
      error: null,
      created: new Date().toISOString()
    };
    const next: ITaskRecord = { ...base, ...changes, seq };
    if (!next.started && next.status === 'running') {
      next.started = new Date().toISOString();
    }
    this._tasks.set(taskId, next);
    this._emitTasks();
    if (!known) {
      // Started elsewhere (a notebook, another client): read the rest of its record.
      void this._fetchTask(taskId);
    }
    return true;
  }

  /** Read one task's record and merge it by seq; failures are left to the next resync. */
  private async _fetchTask(taskId: string): Promise<void> {
    try {
      const record = await this._api.getTaskStatus(taskId);
      if (record && record.projectId === this._projectId) {
        this.applyTaskSnapshot([record]);
      }
    } catch (error) {
      console.warn(`gms: cannot read task ${taskId}`, error);
    }
  }

  private _applyNodeState(event: NodeStateUpdated): void {
    const next = new Map(this._nodeStates);
    next.set(event.nodeId, event.state);
    this._nodeStates = next;
    this._nodeStatesChanged.emit(next);
  }

  private _applyProjectUpdate(event: ProjectUpdate): void {
    const changes = (event.changes ?? {}) as Record<string, unknown>;
    if (changes.created || changes.deleted) {
      // a project was made or removed elsewhere (a notebook, another browser, a terminal)
      void this.loadProjects().catch(() => undefined);
    }
    if (event.projectId !== this._projectId || changes.created) {
      return;
    }
    const known = this._project?.version ?? -1;
    if (
      event.version === undefined ||
      event.version === null ||
      event.version > known
    ) {
      void this.refreshProject().catch(() => undefined);
    }
  }

  private _upsertAsset(category: string, asset: Asset): void {
    if (!this._assets) {
      return;
    }
    const key = categoryKey(asset.category ?? category);
    const categories = { ...this._assets.categories };
    const list = (categories[key] ?? []).filter(
      candidate => candidate.path !== asset.path
    );
    list.push(asset);
    list.sort((a, b) => a.name.localeCompare(b.name));
    categories[key] = list;
    this._assets = { categories };
    this._assetsChanged.emit(this._assets);
  }

  private _removeAsset(category: string, path: string): void {
    if (!this._assets) {
      return;
    }
    const categories: IAssetList['categories'] = {};
    for (const [key, list] of Object.entries(this._assets.categories)) {
      categories[key] = list.filter(asset => asset.path !== path);
    }
    this._assets = { categories };
    this._assetsChanged.emit(this._assets);
    if (this._selection?.kind === 'asset' && this._selection.id === path) {
      this.select(null);
    }
  }

  private async _uploadOne(
    projectId: string,
    category: CategoryKey,
    id: string,
    file: File
  ): Promise<void> {
    const entry = this._uploads.get(id);
    if (!entry || entry.state.status !== 'queued') {
      return;
    }
    this._updateUpload(id, { status: 'uploading' });
    try {
      const result = await this._api.uploadFile(
        projectId,
        category,
        file,
        (loaded, total) => this._updateUpload(id, { loaded, total }),
        entry.abort.signal
      );
      this._updateUpload(id, { status: 'done', loaded: file.size });
      if (this._projectId === projectId) {
        for (const asset of result.assets ?? []) {
          this._upsertAsset(category, asset);
        }
      }
    } catch (error) {
      if (
        error instanceof StudioAPIError &&
        error.code === ClientErrorCodes.aborted
      ) {
        this._updateUpload(id, { status: 'cancelled' });
        return;
      }
      this._updateUpload(id, {
        status: 'error',
        error: (error as Error).message
      });
      this._report(error, `Could not upload ${file.name}`);
    }
  }

  private _updateUpload(id: string, changes: Partial<IUploadState>): void {
    const entry = this._uploads.get(id);
    if (!entry) {
      return;
    }
    if (entry.state.status === 'cancelled' && changes.status !== undefined) {
      return;
    }
    entry.state = { ...entry.state, ...changes };
    this._emitUploads();
  }

  private _emitUploads(): void {
    this._uploadsChanged.emit(this.uploads);
  }

  private _emitTasks(): void {
    this._tasks = new Map(this._tasks);
    this._tasksChanged.emit(this._tasks);
  }

  private _setProject(project: IProject): void {
    this._project = project;
    this._projectChanged.emit(project);
    // A selection whose node has gone (deleted here or by someone else) falls back to the project.
    const selection = this._selection;
    if (
      selection &&
      selection.kind !== 'project' &&
      selection.kind !== 'asset' &&
      !allNodeIds(project).has(selection.id)
    ) {
      this.select({ kind: 'project', id: project.id });
    }
  }

  private _setHealth(health: IHealth): void {
    const same =
      health.reachable === this._health.reachable &&
      JSON.stringify(health.problems) === JSON.stringify(this._health.problems);
    if (same) {
      return;
    }
    this._health = health;
    this._healthChanged.emit(health);
  }

  private _openSocket(projectId: string): void {
    if (!this._createSocket) {
      return;
    }
    const socket = this._createSocket(projectId);
    this._socket = socket;
    socket.stateChanged.connect(this._onSocketState, this);
    socket.resync.connect(this._onResync, this);
    socket.events.onAny(event => this.applyEvent(event));
    socket.connect();
  }

  private _closeSocket(): void {
    const socket = this._socket;
    this._socket = null;
    if (socket) {
      socket.dispose();
    }
    this._setConnection('closed');
  }

  private _onSocketState(socket: IStudioSocket, state: ConnectionState): void {
    if (socket === this._socket) {
      this._setConnection(state);
    }
  }

  private _onResync(socket: IStudioSocket, request: IResyncRequest): void {
    if (socket !== this._socket) {
      return;
    }
    // Tasks may have moved between the snapshot and the subscription: always re-read them.
    const stale = this._project?.version !== request.hello.version;
    const reads: Promise<void>[] = [this.refreshTasks()];
    if (request.reconnect || stale) {
      reads.push(this.refreshProject());
    }
    if (request.reconnect) {
      reads.push(this.refreshAssets());
    }
    void Promise.all(reads).catch(error =>
      this._reportQuietly(error, 'Could not resync')
    );
  }

  private _setConnection(state: ConnectionState): void {
    if (this._connection !== state) {
      this._connection = state;
      this._connectionChanged.emit(state);
    }
  }

  private _requireProject(): string {
    if (!this._projectId) {
      throw new StudioAPIError('no_project', 'Open a project first');
    }
    return this._projectId;
  }

  /** Commit after a change made from the panels when the user asked for it (debounced). */
  private _afterChange(description: string): void {
    if (!this._settings.autoCommit || this._config?.autoCommit) {
      return;
    }
    this._pendingCommit.push(description);
    this._timers.clearTimeout(this._commitTimer);
    this._commitTimer = this._timers.setTimeout(() => {
      const message = `studio: ${this._pendingCommit.join('; ')}`;
      this._pendingCommit = [];
      if (this._projectId) {
        void this._api
          .commit(this._projectId, message)
          .catch(error => console.warn('gms: auto-commit failed', error));
      }
    }, 1000);
  }

  private _notify(notice: INotice): void {
    this._notified.emit(notice);
  }

  /** Tell the user what failed, with the server's message. */
  private _report(error: unknown, context: string): void {
    const message =
      error instanceof StudioAPIError || error instanceof Error
        ? error.message
        : String(error);
    this._notify({ type: 'error', message: `${context}: ${message}` });
  }

  /** Conflicts are the caller's to present (Reload / Overwrite); everything else is reported. */
  private _reportUnlessConflict(error: unknown, context: string): void {
    if (!(error instanceof StudioAPIError && error.isConflict)) {
      this._report(error, context);
    }
  }

  /** Network failures are shown by the health banner, not by a toast each. */
  private _reportQuietly(error: unknown, context: string): void {
    if (error instanceof StudioAPIError && error.isNetwork) {
      return;
    }
    this._report(error, context);
  }

  private _api: IStudioAPI;
  private _createSocket: ((projectId: string) => IStudioSocket) | null;
  private _timers: ITimers;
  private _healthInterval: { healthy: number; unhealthy: number };
  private _uploadConcurrency: number;
  private _socket: IStudioSocket | null = null;
  private _config: IWorkspaceConfig | null = null;
  private _health: IHealth = { reachable: true, problems: [] };
  private _projects: IProjectSummary[] = [];
  private _projectId: string | null = null;
  private _project: IProject | null = null;
  private _projectRefresh: Promise<void> | null = null;
  private _selection: ISelection | null = null;
  private _tasks = new Map<string, ITaskRecord>();
  private _uploads = new Map<
    string,
    { state: IUploadState; abort: AbortController }
  >();
  private _uploadCounter = 0;
  private _assets: IAssetList | null = null;
  private _connection: ConnectionState = 'closed';
  private _nodeStates = new Map<string, JSONRecord>();
  private _pipelines: IPipeline[] = [];
  private _settings: IStudioSettings = { ...DEFAULT_SETTINGS };
  private _healthTimer: unknown = null;
  private _commitTimer: unknown = null;
  private _pendingCommit: string[] = [];
  private _isDisposed = false;
  private _configChanged = new Signal<this, IWorkspaceConfig | null>(this);
  private _healthChanged = new Signal<this, IHealth>(this);
  private _projectsChanged = new Signal<this, IProjectSummary[]>(this);
  private _projectChanged = new Signal<this, IProject | null>(this);
  private _selectionChanged = new Signal<this, ISelection | null>(this);
  private _tasksChanged = new Signal<this, ReadonlyMap<string, ITaskRecord>>(
    this
  );
  private _uploadsChanged = new Signal<this, readonly IUploadState[]>(this);
  private _assetsChanged = new Signal<this, IAssetList | null>(this);
  private _connectionChanged = new Signal<this, ConnectionState>(this);
  private _nodeStatesChanged = new Signal<
    this,
    ReadonlyMap<string, JSONRecord>
  >(this);
  private _pipelinesChanged = new Signal<this, readonly IPipeline[]>(this);
  private _settingsChanged = new Signal<this, IStudioSettings>(this);
  private _notified = new Signal<this, INotice>(this);
  private _eventReceived = new Signal<this, ServerEvent>(this);
}

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

/** True when a task can change no more (re-exported for the panels). */
export { isFinished };
