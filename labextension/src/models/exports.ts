/**
 * The open project's exports (`06_Exports/`): what was handed to an editor, kept current as
 * export tasks finish.
 */
import { ISignal, Signal } from '@lumino/signaling';

import type { IStudioAPI } from '../api';
import type { TaskSuccess } from '../events.generated';
import type { ExportInfo, ExportKind } from '../types';
import type { Notices } from './notices';
import type { ProjectModel } from './projects';
import type { SelectionModel } from './selection';

/** Options of an `ExportShelf`. */
export interface IExportShelfOptions {
  /** The REST client. */
  api: IStudioAPI;
  /** Where failures to start an export are told. */
  notices: Notices;
  /** The open project. */
  projects: ProjectModel;
  /** The selection, cleared when the selected export goes. */
  selection: SelectionModel;
}

/** The exports of the open project, newest first. */
export class ExportShelf {
  /**
   * @param options - the REST client, the notices, the project and the selection
   */
  constructor(options: IExportShelfOptions) {
    this._api = options.api;
    this._notices = options.notices;
    this._projects = options.projects;
    this._selection = options.selection;
    this._projects.switched.connect(this._reset, this);
  }

  /** Emitted when the list changes. */
  get changed(): ISignal<this, readonly ExportInfo[] | null> {
    return this._changed;
  }

  /** The exports, newest first (null until read). */
  get list(): readonly ExportInfo[] | null {
    return this._list;
  }

  /** The export whose main file (or one of whose files) is `path`. */
  byPath(path: string): ExportInfo | null {
    return (
      this._list?.find(
        item => item.path === path || (item.files ?? []).includes(path)
      ) ?? null
    );
  }

  /** Re-read the open project's exports. */
  async refresh(): Promise<void> {
    const projectId = this._projects.id;
    if (!projectId) {
      return;
    }
    const answer = await this._api.listExports(projectId);
    if (this._projects.id === projectId) {
      this._list = answer.exports;
      this._changed.emit(this._list);
      const selected = this._selection.current;
      if (selected?.kind === 'export' && !this.byPath(selected.id)) {
        this._selection.select(null);
      }
    }
  }

  /**
   * Export a scene, a chapter or the film (`scope` null) as a task.
   *
   * @returns the task id
   */
  async start(kind: ExportKind, scope: string | null): Promise<string> {
    const projectId = this._projects.requireId();
    try {
      const accepted = await this._api.startExport(projectId, kind, scope);
      return accepted.taskId;
    } catch (error) {
      this._notices.report(error, 'Could not export');
      throw error;
    }
  }

  /** A finished export task: its record is in the folder now. */
  applySuccess(event: TaskSuccess): void {
    if (event.result.export) {
      void this.refresh().catch(error =>
        this._notices.reportQuietly(error, 'Could not read the exports')
      );
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
  private _list: readonly ExportInfo[] | null = null;
  private _changed = new Signal<this, readonly ExportInfo[] | null>(this);
}
