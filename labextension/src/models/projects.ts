/**
 * The workspace's projects and the open one: its manifest and the edits of its hierarchy
 * (chapters, scenes, shots), all through the REST API with `If-Match` where the user edited.
 */
import { ISignal, Signal } from '@lumino/signaling';

import { IStudioAPI, StudioAPIError } from '../api';
import type { ProjectUpdate } from '../events.generated';
import { allNodeIds, findNode } from '../hierarchy';
import type {
  CreatableKind,
  IDeleted,
  INodeInfo,
  INodePatch,
  IProject,
  IProjectPatch,
  IProjectSummary,
  JSONRecord,
  Quality
} from '../types';
import type { Notices } from './notices';
import type { SelectionModel } from './selection';

/** Options of a `ProjectModel`. */
export interface IProjectModelOptions {
  /** The REST client. */
  api: IStudioAPI;
  /** Where failures are told to the user. */
  notices: Notices;
  /** The studio's selection, which follows the project (and falls back when a node goes). */
  selection: SelectionModel;
  /**
   * Called once a newly opened project's manifest is read: load the rest of its state (tasks,
   * assets, the event socket). `open()` waits for it.
   */
  whenOpened?: (projectId: string) => Promise<void>;
}

/** The projects of the workspace and the open project's manifest. */
export class ProjectModel {
  /**
   * @param options - the REST client, the notices, the selection and the open hook
   */
  constructor(options: IProjectModelOptions) {
    this._api = options.api;
    this._notices = options.notices;
    this._selection = options.selection;
    this._whenOpened = options.whenOpened ?? (() => Promise.resolve());
  }

  /** Emitted when the project list changes. */
  get listChanged(): ISignal<this, IProjectSummary[]> {
    return this._listChanged;
  }

  /** Emitted when the open project's manifest changes, or another project is opened. */
  get currentChanged(): ISignal<this, IProject | null> {
    return this._currentChanged;
  }

  /**
   * Emitted when another project is opened (or the open one closed), before its manifest is
   * read: whoever holds per-project state drops it.
   */
  get switched(): ISignal<this, string | null> {
    return this._switched;
  }

  /** Emitted after each change made through this model, with a short description (auto-commit). */
  get edited(): ISignal<this, string> {
    return this._edited;
  }

  /** The projects of the workspace. */
  get list(): IProjectSummary[] {
    return this._list;
  }

  /** The open project's manifest. */
  get current(): IProject | null {
    return this._current;
  }

  /** The id of the open (or opening) project. */
  get id(): string | null {
    return this._id;
  }

  /** The id of the open project; throws when none is open. */
  requireId(): string {
    if (!this._id) {
      throw new StudioAPIError('no_project', 'Open a project first');
    }
    return this._id;
  }

  /** Re-read the project list. */
  async load(): Promise<void> {
    try {
      const list = await this._api.listProjects();
      this._list = list.projects;
      this._listChanged.emit(this._list);
    } catch (error) {
      this._notices.reportQuietly(error, 'Could not list the projects');
      throw error;
    }
  }

  /**
   * Open a project (or close the open one with null): read its manifest, select it, then let
   * the rest of the studio load its state.
   */
  async open(projectId: string | null): Promise<void> {
    if (projectId === this._id && (projectId === null || this._current)) {
      return;
    }
    this._id = projectId;
    this._current = null;
    this._switched.emit(projectId);
    this._currentChanged.emit(null);
    this._selection.select(null);
    if (projectId === null) {
      return;
    }
    try {
      const project = await this._api.getProject(projectId);
      if (this._id !== projectId) {
        return;
      }
      this._set(project);
      this._selection.select({ kind: 'project', id: project.id });
    } catch (error) {
      if (this._id === projectId) {
        this._id = null;
      }
      this._notices.report(error, `Could not open project ${projectId}`);
      throw error;
    }
    await this._whenOpened(projectId);
  }

  /** Create a project and open it. */
  async create(name: string, quality: Quality): Promise<IProject> {
    try {
      const project = await this._api.createProject({ name, quality });
      await this.load().catch(() => undefined);
      await this.open(project.id);
      this._notices.notify({
        type: 'success',
        message: `Project "${project.name}" created`
      });
      return project;
    } catch (error) {
      this._notices.report(error, 'Could not create the project');
      throw error;
    }
  }

  /** Move a project to the trash (closing it when it is open); its trash item's id. */
  async remove(projectId: string): Promise<string | null> {
    let deleted: IDeleted;
    try {
      deleted = await this._api.deleteProject(projectId);
    } catch (error) {
      this._notices.report(error, 'Could not delete the project');
      throw error;
    }
    if (this._id === projectId) {
      await this.open(null);
    }
    await this.load().catch(() => undefined);
    return deleted?.trashId ?? null;
  }

  /** Re-read the open project's manifest (concurrent calls share one request). */
  refresh(): Promise<void> {
    if (!this._id) {
      return Promise.resolve();
    }
    if (!this._refreshing) {
      const projectId = this._id;
      this._refreshing = this._api
        .getProject(projectId)
        .then(project => {
          if (this._id === projectId) {
            this._set(project);
          }
        })
        .catch(error => {
          if (error instanceof StudioAPIError && error.status === 404) {
            this._notices.notify({
              type: 'warning',
              message: `Project ${projectId} no longer exists`
            });
            void this.open(null);
            void this.load().catch(() => undefined);
            return;
          }
          throw error;
        })
        .finally(() => {
          this._refreshing = null;
        });
    }
    return this._refreshing;
  }

  /**
   * Save project fields with `If-Match`.
   *
   * @param version - the manifest version the edit started from; a stale one answers 409
   * @throws StudioAPIError with `isConflict` when the project changed meanwhile
   */
  async save(patch: IProjectPatch, version: number): Promise<void> {
    const projectId = this.requireId();
    try {
      const project = await this._api.patchProject(projectId, patch, version);
      this._set(project);
      this._edited.emit(`update project ${project.name}`);
      void this.load().catch(() => undefined);
    } catch (error) {
      this._notices.reportUnlessConflict(error, 'Could not save the project');
      throw error;
    }
  }

  /** Add a chapter (parent null), scene or shot, and select it. */
  async addNode(
    kind: CreatableKind,
    parentId: string | null,
    name: string,
    extra: { properties?: JSONRecord; duration?: number; index?: number } = {}
  ): Promise<INodeInfo> {
    const projectId = this.requireId();
    try {
      const info = await this._api.createNode(projectId, {
        kind,
        parentId,
        name,
        ...extra
      });
      await this.refresh();
      this._selection.select({ kind, id: info.id });
      this._edited.emit(`add ${kind} ${name}`);
      return info;
    } catch (error) {
      this._notices.report(error, `Could not add the ${kind}`);
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
    const projectId = this.requireId();
    try {
      await this._api.patchNode(projectId, nodeId, patch, version);
      await this.refresh();
      this._edited.emit(
        `update ${findNode(this._current, nodeId)?.name ?? nodeId}`
      );
    } catch (error) {
      this._notices.reportUnlessConflict(error, 'Could not save the change');
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

  /** Add a file of the project (an asset, a take) to a shot's references; no-op if there. */
  addReference(shotId: string, path: string): Promise<void> {
    const shot = findNode(this._current, shotId)?.shot;
    const references = shot?.references ?? [];
    if (!shot || references.includes(path)) {
      return Promise.resolve();
    }
    return this.patchNode(shotId, { references: [...references, path] });
  }

  /** Remove a file from a shot's references. */
  removeReference(shotId: string, path: string): Promise<void> {
    const shot = findNode(this._current, shotId)?.shot;
    const references = shot?.references ?? [];
    if (!shot || !references.includes(path)) {
      return Promise.resolve();
    }
    return this.patchNode(shotId, {
      references: references.filter(candidate => candidate !== path)
    });
  }

  /** Make `takeId` the shot's selected take. */
  selectTake(shotId: string, takeId: string): Promise<void> {
    return this.patchNode(shotId, { selectedTake: takeId });
  }

  /**
   * Move a node, with everything under it and its takes' files, to the trash; a selection
   * inside it moves to its parent. Its trash item's id.
   */
  async deleteNode(nodeId: string): Promise<string | null> {
    const projectId = this.requireId();
    const node = findNode(this._current, nodeId);
    try {
      const deleted = await this._api.deleteNode(projectId, nodeId);
      if (this._selection.current?.id === nodeId) {
        const parent = node?.parentId;
        this._selection.select(
          parent
            ? {
                kind: findNode(this._current, parent)?.kind ?? 'project',
                id: parent
              }
            : { kind: 'project', id: projectId }
        );
      }
      await this.refresh();
      this._edited.emit(
        `delete ${node?.kind ?? 'node'} ${node?.name ?? nodeId}`
      );
      return deleted?.trashId ?? null;
    } catch (error) {
      this._notices.report(error, 'Could not delete');
      throw error;
    }
  }

  /** Apply a `project_update` event: re-read what is newer than what is known. */
  applyUpdate(event: ProjectUpdate): void {
    const changes = (event.changes ?? {}) as Record<string, unknown>;
    if (changes.created || changes.deleted) {
      // a project was made or removed elsewhere (a notebook, another browser, a terminal)
      void this.load().catch(() => undefined);
    }
    if (event.projectId !== this._id || changes.created) {
      return;
    }
    const known = this._current?.version ?? -1;
    if (
      event.version === undefined ||
      event.version === null ||
      event.version > known
    ) {
      void this.refresh().catch(() => undefined);
    }
  }

  /** Disconnect every listener. */
  dispose(): void {
    Signal.clearData(this);
  }

  private _set(project: IProject): void {
    this._current = project;
    this._currentChanged.emit(project);
    // A selection whose node has gone (deleted here or by someone else) falls back to the project.
    const selection = this._selection.current;
    if (
      selection &&
      selection.kind !== 'project' &&
      selection.kind !== 'asset' &&
      !allNodeIds(project).has(selection.id)
    ) {
      this._selection.select({ kind: 'project', id: project.id });
    }
  }

  private _api: IStudioAPI;
  private _notices: Notices;
  private _selection: SelectionModel;
  private _whenOpened: (projectId: string) => Promise<void>;
  private _list: IProjectSummary[] = [];
  private _id: string | null = null;
  private _current: IProject | null = null;
  private _refreshing: Promise<void> | null = null;
  private _listChanged = new Signal<this, IProjectSummary[]>(this);
  private _currentChanged = new Signal<this, IProject | null>(this);
  private _switched = new Signal<this, string | null>(this);
  private _edited = new Signal<this, string>(this);
}
