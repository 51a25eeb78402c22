/**
 * The open project's generation tasks, merged from snapshots and live events by their per-task
 * `seq`, and the pipeline registry they run on.
 */
import { ISignal, Signal } from '@lumino/signaling';

import type { IStudioAPI } from '../api';
import type {
  ExportInfo,
  TaskFailed,
  TaskProgress,
  TaskSuccess
} from '../events.generated';
import { findNode, takeLabel } from '../hierarchy';
import type {
  IModelList,
  IPipeline,
  ITaskRecord,
  ITemplateList,
  JSONRecord
} from '../types';
import { exportLabel, isFinished } from '../types';
import type { StudioMemory } from './memory';
import type { Notices } from './notices';
import type { ProjectModel } from './projects';
import type { SelectionModel } from './selection';

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

/** Options of a `TaskTracker`. */
export interface ITaskTrackerOptions {
  /** The REST client. */
  api: IStudioAPI;
  /** Where outcomes and failures are told to the user. */
  notices: Notices;
  /** The open project (its id; its manifest names the shots in notices). */
  projects: ProjectModel;
  /** The selection, for the notices' "Show" action. */
  selection: SelectionModel;
  /** What the user cleared from Recent (kept between page loads). */
  memory: StudioMemory;
}

/**
 * The tasks of the open project.
 *
 * Live task events carry a per-task `seq`: an event is applied only when its seq is newer than the
 * one known for that task, so replays after a reconnect and late events are harmless.
 */
export class TaskTracker {
  /**
   * @param options - the REST client, the notices, the project and the selection
   */
  constructor(options: ITaskTrackerOptions) {
    this._api = options.api;
    this._notices = options.notices;
    this._projects = options.projects;
    this._selection = options.selection;
    this._memory = options.memory;
    this._projects.switched.connect(this._reset, this);
  }

  /** Emitted when a task is added or changes. */
  get changed(): ISignal<this, ReadonlyMap<string, ITaskRecord>> {
    return this._changed;
  }

  /** Emitted when the pipeline registry is read. */
  get pipelinesChanged(): ISignal<this, readonly IPipeline[]> {
    return this._pipelinesChanged;
  }

  /** The open project's tasks by id. */
  get all(): ReadonlyMap<string, ITaskRecord> {
    return this._tasks;
  }

  /** The pipeline registry. */
  get pipelines(): readonly IPipeline[] {
    return this._pipelines;
  }

  /** The workspace's model library as last read (null before the first read). */
  get models(): IModelList | null {
    return this._models;
  }

  /** The task with this id, if known. */
  get(taskId: string): ITaskRecord | undefined {
    return this._tasks.get(taskId);
  }

  /** The tasks of a shot, newest first. */
  of(nodeId: string): ITaskRecord[] {
    return [...this._tasks.values()]
      .filter(task => task.nodeId === nodeId)
      .sort((a, b) => b.created.localeCompare(a.created));
  }

  /** Read the pipeline registry. */
  async loadPipelines(): Promise<void> {
    const list = await this._api.listPipelines();
    this._pipelines = list.pipelines;
    this._pipelinesChanged.emit(this._pipelines);
  }

  /**
   * Read the workspace's model library (cheap on the server: configs and headers only). Read
   * each time the Generate dialog opens, so a model copied in meanwhile is offered.
   */
  async loadModels(): Promise<IModelList> {
    this._models = await this._api.listModels();
    return this._models;
  }

  /**
   * Read the workflow templates of every pipeline that runs templates (ComfyUI), for the open
   * project (its own templates first). Read each time the Generate dialog opens, so a workflow
   * exported meanwhile is offered. A pipeline whose list cannot be read maps to null.
   */
  async loadTemplates(): Promise<{ [pipeline: string]: ITemplateList | null }> {
    const projectId = this._projects.id;
    const wanted = this._pipelines.filter(pipeline =>
      Object.values(pipeline.parameters).some(
        spec => spec.source === 'templates'
      )
    );
    const lists = await Promise.all(
      wanted.map(pipeline =>
        this._api
          .listTemplates(pipeline.id, projectId)
          .catch((): ITemplateList | null => null)
      )
    );
    const out: { [pipeline: string]: ITemplateList | null } = {};
    wanted.forEach((pipeline, index) => (out[pipeline.id] = lists[index]));
    return out;
  }

  /**
   * Ask for a take of a shot, or `count` takes of it at once (all queued or none).
   *
   * @returns the (first) task id
   */
  async generate(
    shotId: string,
    pipeline: string,
    parameters: JSONRecord = {},
    count = 1
  ): Promise<string> {
    const projectId = this._projects.requireId();
    try {
      const accepted = await this._api.submitTask({
        projectId,
        nodeId: shotId,
        pipeline,
        parameters,
        ...(count > 1 ? { count } : {})
      });
      const ids = accepted.taskIds?.length
        ? accepted.taskIds
        : [accepted.taskId];
      for (const taskId of ids) {
        this._queued(taskId, projectId, shotId, pipeline, parameters);
      }
      if (ids.length > 1) {
        const shot = findNode(this._projects.current, shotId);
        this._notices.notify({
          type: 'info',
          message: `${ids.length} takes of ${shot?.name ?? 'the shot'} queued`
        });
      }
      return accepted.taskId;
    } catch (error) {
      this._notices.report(error, 'Could not start the generation');
      throw error;
    }
  }

  /** A task just queued, known here before its first event. */
  private _queued(
    taskId: string,
    projectId: string,
    shotId: string,
    pipeline: string,
    parameters: JSONRecord
  ): void {
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
      this._emit();
    }
  }

  /**
   * Ask for one take of every shot of a scene, each from its own prompt, style and references
   * (`parameters` apply to all of them).
   *
   * @returns the task ids, in the order of the shots
   */
  async generateScene(
    sceneId: string,
    pipeline: string,
    parameters: JSONRecord = {}
  ): Promise<string[]> {
    const scene = findNode(this._projects.current, sceneId)?.scene;
    if (!scene || scene.shots.length === 0) {
      const error = new Error('The scene has no shots yet');
      this._notices.report(error, 'Could not generate the scene');
      throw error;
    }
    const ids: string[] = [];
    for (const shot of scene.shots) {
      ids.push(await this.generate(shot.id, pipeline, parameters));
    }
    this._notices.notify({
      type: 'info',
      message: `${ids.length} take${ids.length === 1 ? '' : 's'} of ${scene.name} queued, one per shot`
    });
    return ids;
  }

  /**
   * Clear Recent: forget the project's finished tasks, here and after a reload (their takes
   * stay; only the list is cleared).
   */
  clearFinished(): void {
    const projectId = this._projects.id;
    if (!projectId) {
      return;
    }
    this._memory.setClearedBefore(projectId, new Date().toISOString());
    for (const [taskId, task] of this._tasks) {
      if (isFinished(task.status)) {
        this._tasks.delete(taskId);
      }
    }
    this._emit();
  }

  /** Cancel a task; its end arrives as an event. */
  async cancel(taskId: string): Promise<void> {
    try {
      await this._api.cancelTask(taskId);
    } catch (error) {
      this._notices.report(error, 'Could not cancel the task');
      throw error;
    }
  }

  /** Start a new task with the same shot, pipeline and parameters as `taskId`. */
  async retry(taskId: string): Promise<string> {
    let task = this._tasks.get(taskId);
    if (!task?.pipeline) {
      // Known from events only: read what it asked for.
      await this._fetch(taskId);
      task = this._tasks.get(taskId);
    }
    if (!task?.pipeline) {
      const error = new Error(`Task ${taskId} is unknown`);
      this._notices.report(error, 'Could not retry');
      throw error;
    }
    return this.generate(task.nodeId, task.pipeline, task.parameters);
  }

  /** Whether the project has older tasks than those read so far (`loadOlder` reads them). */
  get hasOlder(): boolean {
    return this._olderCursor !== null;
  }

  /** Re-read the open project's newest tasks (one page) and merge them by seq. */
  async refresh(): Promise<void> {
    const projectId = this._projects.id;
    if (!projectId) {
      return;
    }
    const list = await this._api.listTasks(projectId);
    if (this._projects.id === projectId) {
      if (!this._pagedFurther) {
        this._olderCursor = list.more ? (list.nextCursor ?? null) : null;
      }
      this.applySnapshot(list.tasks);
      this._emit();
    }
  }

  /**
   * Read the next page of older tasks (the server answers a project's history a page at a
   * time, newest first); nothing happens when there is none.
   */
  async loadOlder(): Promise<void> {
    const projectId = this._projects.id;
    const cursor = this._olderCursor;
    if (!projectId || cursor === null) {
      return;
    }
    const list = await this._api.listTasks(projectId, cursor);
    if (this._projects.id === projectId && this._olderCursor === cursor) {
      this._pagedFurther = true;
      this._olderCursor = list.more ? (list.nextCursor ?? null) : null;
      this.applySnapshot(list.tasks);
      this._emit();
    }
  }

  /**
   * Merge task records read from the server: a record replaces the known task unless the known
   * one is newer (a live event overtook the snapshot).
   */
  applySnapshot(records: ITaskRecord[]): void {
    let changed = false;
    const toTell: string[] = [];
    const cleared = this._projects.id
      ? this._memory.clearedBefore(this._projects.id)
      : null;
    for (const record of records) {
      const known = this._tasks.get(record.taskId);
      if (
        cleared &&
        isFinished(record.status) &&
        (record.finished ?? record.created) <= cleared
      ) {
        // cleared from Recent by the user
        changed = this._tasks.delete(record.taskId) || changed;
        continue;
      }
      if (known && known.seq > record.seq) {
        // The live state is newer; still take what events never carry (what was asked for).
        this._tasks.set(record.taskId, {
          ...known,
          pipeline: known.pipeline || record.pipeline,
          parameters: record.parameters ?? known.parameters,
          created: record.created ?? known.created,
          started: known.started ?? record.started,
          tier: record.tier ?? known.tier,
          runner: record.runner ?? known.runner,
          // which take it makes: said at submit, by no progress event
          takeId: known.takeId ?? record.takeId
        });
      } else {
        const ended =
          isFinished(record.status) && !(known && isFinished(known.status));
        if (ended && this._notices.awaiting(record.taskId)) {
          // An export announced here ("Exporting…") whose record came before its own events
          // (a snapshot read as the quick task ended, or after a reconnect that lost them):
          // told now, from the record; its end event, not newer, is then not told again.
          toTell.push(record.taskId);
        } else if (ended && known) {
          // It ended while its record was being read (a quick export seen first through a
          // progress event): its end event may now arrive with no newer seq; it is still told.
          this._endedUntold.add(record.taskId);
        }
        this._tasks.set(record.taskId, { ...known, ...record });
      }
      changed = true;
    }
    if (changed) {
      this._emit();
    }
    for (const taskId of toTell) {
      this.tellIfEnded(taskId);
    }
  }

  /**
   * Tell how an export announced here ("Exporting…") ended, if its record has ended already
   * and its end was not told: the record came before the task's own end event (which, not
   * newer, would not be told). The caller of an export calls it right after its announcement.
   */
  tellIfEnded(taskId: string): void {
    const task = this._tasks.get(taskId);
    if (!task || !isFinished(task.status) || !this._notices.awaiting(taskId)) {
      return;
    }
    this._endedUntold.delete(taskId); // told here: its end event, if it comes, is not
    if (task.status === 'completed') {
      if (task.result?.export) {
        this._exportReady(taskId, task.result.export);
      }
      return;
    }
    this._exportEnded(taskId, task.status === 'cancelled', task.error ?? '');
  }

  /** Apply a `task_progress` event. */
  applyProgress(event: TaskProgress): void {
    this._apply(event.taskId, event.seq, event.nodeId, {
      status: event.status,
      progress: event.progress,
      step: event.step,
      preview: event.preview ?? null,
      ...(event.pipeline ? { pipeline: event.pipeline } : {})
    });
  }

  /** Apply a `task_success` event; a take's success is announced once the manifest has it. */
  applySuccess(event: TaskSuccess): void {
    const applied = this._applyEnd(event.taskId, event.seq, event.nodeId, {
      status: 'completed',
      progress: 1,
      step: 'done',
      preview: null,
      result: event.result,
      takeId: event.result.takeId ?? null,
      finished: new Date().toISOString()
    });
    if (!applied || isFileTask(this._tasks.get(event.taskId) ?? event)) {
      return;
    }
    const made = event.result.export;
    if (made) {
      this._exportReady(event.taskId, made);
      return;
    }
    // The take is registered in project.json: show it.
    void this._projects
      .refresh()
      .then(() => {
        const project = this._projects.current;
        const shot = findNode(project, event.nodeId);
        const take = event.result.takeId
          ? findNode(project, event.result.takeId)
          : null;
        const label =
          take?.shot && take.take
            ? takeLabel(take.shot, take.take)
            : 'A new take';
        this._notices.notify({
          type: 'success',
          message: `${label} of ${shot?.name ?? 'the shot'} is ready`,
          actions: [
            {
              label: 'Show',
              callback: () =>
                this._selection.select(
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

  /** Apply a `task_failed` event (a failure or a cancel). */
  applyFailure(event: TaskFailed): void {
    const applied = this._applyEnd(event.taskId, event.seq, event.nodeId, {
      status: event.cancelled ? 'cancelled' : 'error',
      error: event.error,
      step: event.cancelled ? 'cancelled' : 'failed',
      preview: null,
      finished: new Date().toISOString()
    });
    if (!applied) {
      return;
    }
    if (isFileTask(this._tasks.get(event.taskId) ?? event)) {
      console.warn(`gms: no thumbnail for ${event.nodeId}: ${event.error}`);
      return;
    }
    const pipeline = this._tasks.get(event.taskId)?.pipeline;
    const exporting = this._pipelines.some(
      p => p.id === pipeline && p.produces === 'export'
    );
    if (this._notices.has(event.taskId) || exporting) {
      // an export (announced as under way here, or started elsewhere: a notebook) changed no
      // take: its notice says how it ended
      this._exportEnded(event.taskId, event.cancelled, event.error);
      return;
    }
    void this._projects.refresh().catch(() => undefined);
    const shot = findNode(this._projects.current, event.nodeId);
    if (event.cancelled) {
      this._notices.notify({
        type: 'info',
        message: `Generation for ${shot?.name ?? 'a shot'} cancelled`
      });
      return;
    }
    this._notices.notify({
      type: 'error',
      message: `Generation for ${shot?.name ?? 'a shot'} failed: ${event.error}`,
      actions: [
        {
          label: 'Retry',
          callback: () => void this.retry(event.taskId).catch(() => undefined)
        }
      ]
    });
  }

  /** An export's "… is ready": what it is, of what, and where it went (its "Exporting…"'s place). */
  private _exportReady(taskId: string, made: ExportInfo): void {
    const gaps = made.gaps?.length
      ? ` (${made.gaps.length} shot${made.gaps.length === 1 ? '' : 's'} without a picture)`
      : '';
    this._notices.notify({
      type: 'success',
      key: taskId,
      message: `${exportLabel(made.kind)} of ${made.scopeName ?? 'the film'} is ready: ${made.path}${gaps}`,
      actions: [
        {
          label: made.kind === 'animatic' ? 'Play' : 'Show',
          callback: () =>
            this._selection.select({ kind: 'export', id: made.path })
        }
      ]
    });
  }

  /** How an export failed or that it was cancelled (its "Exporting…"'s place). */
  private _exportEnded(
    taskId: string,
    cancelled: boolean,
    error: string
  ): void {
    this._notices.notify({
      type: cancelled ? 'info' : 'error',
      key: taskId,
      message: cancelled ? 'Export cancelled' : `Export failed: ${error}`
    });
  }

  /** Disconnect every listener. */
  dispose(): void {
    Signal.clearData(this);
  }

  /**
   * Apply a task event unless it is not newer than what is known.
   *
   * @returns whether the event was applied
   */
  private _apply(
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
      projectId: this._projects.id ?? '',
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
    this._emit();
    if (!known) {
      // Started elsewhere (a notebook, another client): read the rest of its record.
      void this._fetch(taskId);
    }
    return true;
  }

  /**
   * Apply a task's end event. It is also to be told when a record read meanwhile already
   * ended the task, so the event itself is not newer.
   *
   * @returns whether the end is to be told
   */
  private _applyEnd(
    taskId: string,
    seq: number,
    nodeId: string,
    changes: Partial<ITaskRecord>
  ): boolean {
    const applied = this._apply(taskId, seq, nodeId, changes);
    return this._endedUntold.delete(taskId) || applied;
  }

  /** Read one task's record and merge it by seq; failures are left to the next resync. */
  private async _fetch(taskId: string): Promise<void> {
    try {
      const record = await this._api.getTaskStatus(taskId);
      if (record && record.projectId === this._projects.id) {
        this.applySnapshot([record]);
      }
    } catch (error) {
      console.warn(`gms: cannot read task ${taskId}`, error);
    }
  }

  private _reset(): void {
    this._tasks = new Map();
    this._endedUntold.clear();
    this._olderCursor = null;
    this._pagedFurther = false;
    this._changed.emit(this._tasks);
  }

  private _emit(): void {
    this._tasks = new Map(this._tasks);
    this._changed.emit(this._tasks);
  }

  private _api: IStudioAPI;
  private _notices: Notices;
  private _projects: ProjectModel;
  private _selection: SelectionModel;
  private _memory: StudioMemory;
  private _tasks = new Map<string, ITaskRecord>();
  /** Tasks a record read showed ending, whose end event is still to be told. */
  private _endedUntold = new Set<string>();
  private _olderCursor: string | null = null;
  private _pagedFurther = false;
  private _pipelines: IPipeline[] = [];
  private _models: IModelList | null = null;
  private _changed = new Signal<this, ReadonlyMap<string, ITaskRecord>>(this);
  private _pipelinesChanged = new Signal<this, readonly IPipeline[]>(this);
}
