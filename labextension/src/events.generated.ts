/* eslint-disable */
/**
 * GMS event types: generated; do not edit.
 *
 * Source: src/events.schema.json, the JSON Schema of the pydantic unions in gms_lab/events.py.
 * Regenerate with `jlpm gen:types` after the Python models change.
 */

/**
 * This interface was referenced by `GmsEventsSchema`'s JSON-Schema
 * via the `definition` "ServerEvent".
 */
export type ServerEvent =
  | Hello
  | TaskProgress
  | TaskSuccess
  | TaskFailed
  | NodeStateUpdated
  | ProjectUpdate
  | AssetAdded
  | AssetRemoved
  | SelectionChanged
  | PanelResized
  | Pong
  | ErrorEvent
  | EventsUnavailable;
/**
 * Where a generation task is in its life.
 *
 * This interface was referenced by `GmsEventsSchema`'s JSON-Schema
 * via the `definition` "TaskStatus".
 */
export type TaskStatus = 'pending' | 'running' | 'completed' | 'error' | 'cancelled';
/**
 * The asset library's four categories; `folder` is their folder under `01_Assets`.
 *
 * This interface was referenced by `GmsEventsSchema`'s JSON-Schema
 * via the `definition` "AssetCategory".
 */
export type AssetCategory = 'locations' | 'characters' | 'music' | 'styles';
/**
 * This interface was referenced by `GmsEventsSchema`'s JSON-Schema
 * via the `definition` "ClientMessage".
 */
export type ClientMessage = StartGeneration | SelectionChanged | PanelResized | Ping;

/**
 * First message on a connection: the snapshot version to re-read from.
 *
 * This interface was referenced by `GmsEventsSchema`'s JSON-Schema
 * via the `definition` "Hello".
 */
export interface Hello {
  type: 'hello';
  projectId: string;
  version: number;
  clientId: string;
  serverTime: number;
}
/**
 * A task moved: queued, started, or a pipeline progress line.
 *
 * This interface was referenced by `GmsEventsSchema`'s JSON-Schema
 * via the `definition` "TaskProgress".
 */
export interface TaskProgress {
  type: 'task_progress';
  taskId: string;
  nodeId: string;
  progress: number;
  step: string;
  status: TaskStatus;
  seq: number;
  pipeline: string;
  preview: string | null;
}
/**
 * A task finished with a take.
 *
 * This interface was referenced by `GmsEventsSchema`'s JSON-Schema
 * via the `definition` "TaskSuccess".
 */
export interface TaskSuccess {
  type: 'task_success';
  taskId: string;
  nodeId: string;
  result: TaskResult;
  seq: number;
}
/**
 * What a successful task made (an export also says what it is, in `export`).
 *
 * This interface was referenced by `GmsEventsSchema`'s JSON-Schema
 * via the `definition` "TaskResult".
 */
export interface TaskResult {
  outputPath: string;
  metadata?: {
    [k: string]: unknown | undefined;
  };
  takeId?: string | null;
  outputs?: string[];
  export?: ExportInfo | null;
}
/**
 * One export in `06_Exports/`: what it is, of what, when, and its files.
 *
 * This interface was referenced by `GmsEventsSchema`'s JSON-Schema
 * via the `definition` "ExportInfo".
 */
export interface ExportInfo {
  kind: ('animatic' | 'otio' | 'edl' | 'fcpxml' | 'boards') | 'other';
  scope?: string | null;
  scopeKind?: ('film' | 'chapter' | 'scene') | null;
  scopeName?: string | null;
  path: string;
  files?: string[];
  created: string;
  size: number;
  url: string;
  taskId?: string | null;
  shots?: number | null;
  duration?: number | null;
  fps?: number | null;
  gaps?: ExportGap[];
  author?: {
    [k: string]: string | undefined;
  } | null;
}
/**
 * A shot that has no picture in an export, held as a named gap of its duration.
 *
 * This interface was referenced by `GmsEventsSchema`'s JSON-Schema
 * via the `definition` "ExportGap".
 */
export interface ExportGap {
  shotId: string;
  name: string;
  duration: number;
  reason: string;
}
/**
 * A task failed or was cancelled.
 *
 * This interface was referenced by `GmsEventsSchema`'s JSON-Schema
 * via the `definition` "TaskFailed".
 */
export interface TaskFailed {
  type: 'task_failed';
  taskId: string;
  nodeId: string;
  error: string;
  seq: number;
  cancelled: boolean;
}
/**
 * A node's state changed (a take generating, completed, failed).
 *
 * This interface was referenced by `GmsEventsSchema`'s JSON-Schema
 * via the `definition` "NodeStateUpdated".
 */
export interface NodeStateUpdated {
  type: 'node_state_updated';
  nodeId: string;
  state: {
    [k: string]: unknown | undefined;
  };
}
/**
 * A project file changed; `changes` says what, `version` is the new manifest version.
 *
 * This interface was referenced by `GmsEventsSchema`'s JSON-Schema
 * via the `definition` "ProjectUpdate".
 */
export interface ProjectUpdate {
  type: 'project_update';
  projectId: string;
  changes: {
    [k: string]: unknown | undefined;
  };
  version: number | null;
}
/**
 * A file appeared in (or changed in) the asset library.
 *
 * This interface was referenced by `GmsEventsSchema`'s JSON-Schema
 * via the `definition` "AssetAdded".
 */
export interface AssetAdded {
  type: 'asset_added';
  category: string;
  asset: Asset;
}
/**
 * A file of the asset library (or any project file, in the files listing).
 *
 * This interface was referenced by `GmsEventsSchema`'s JSON-Schema
 * via the `definition` "Asset".
 */
export interface Asset {
  path: string;
  name: string;
  category: AssetCategory | null;
  kind: 'image' | 'video' | 'audio' | 'model' | 'document' | 'other';
  size: number;
  modified: string;
  url: string;
  thumbnail?: string | null;
  folder?: string;
}
/**
 * A file left the asset library.
 *
 * This interface was referenced by `GmsEventsSchema`'s JSON-Schema
 * via the `definition` "AssetRemoved".
 */
export interface AssetRemoved {
  type: 'asset_removed';
  category: string;
  path: string;
}
/**
 * Another client of the project changed its selection (relayed).
 *
 * This interface was referenced by `GmsEventsSchema`'s JSON-Schema
 * via the `definition` "SelectionChanged".
 */
export interface SelectionChanged {
  type: 'selection_change';
  clientId?: string | null;
  nodeId?: string | null;
  selection?: string[];
}
/**
 * Another client resized a panel (relayed).
 *
 * This interface was referenced by `GmsEventsSchema`'s JSON-Schema
 * via the `definition` "PanelResized".
 */
export interface PanelResized {
  type: 'panel_resize';
  clientId?: string | null;
  panel: string;
  size: number;
}
/**
 * Answer to a ping.
 *
 * This interface was referenced by `GmsEventsSchema`'s JSON-Schema
 * via the `definition` "Pong".
 */
export interface Pong {
  type: 'pong';
  time: number | null;
}
/**
 * Something the client sent could not be done; the connection stays open.
 *
 * This interface was referenced by `GmsEventsSchema`'s JSON-Schema
 * via the `definition` "ErrorEvent".
 */
export interface ErrorEvent {
  type: 'error';
  code: string;
  message: string;
  details: unknown;
}
/**
 * Live events are interrupted (Redis does not answer); a `project_update` with
 * `changes.resync` follows when they flow again: re-read the snapshot then.
 *
 * This interface was referenced by `GmsEventsSchema`'s JSON-Schema
 * via the `definition` "EventsUnavailable".
 */
export interface EventsUnavailable {
  type: 'events_unavailable';
  message: string;
  since: number;
}
/**
 * Ask for a take of a shot (or `count` takes of it at once, as `POST tasks/submit`):
 * `nodeType` is the pipeline id (e.g. `still`).
 *
 * This interface was referenced by `GmsEventsSchema`'s JSON-Schema
 * via the `definition` "StartGeneration".
 */
export interface StartGeneration {
  type: 'start_generation';
  nodeId: string;
  nodeType: string;
  parameters?: {
    [k: string]: unknown | undefined;
  };
  count?: number;
  requestId?: string | null;
}
/**
 * Heartbeat from the client.
 *
 * This interface was referenced by `GmsEventsSchema`'s JSON-Schema
 * via the `definition` "Ping".
 */
export interface Ping {
  type: 'ping';
  time?: number | null;
}
