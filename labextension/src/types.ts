/**
 * REST bodies of the gms server extension, written from gms_lab/models.py (camelCase on the wire).
 *
 * Event types are not here: they are generated from the Python JSON Schema into
 * `events.generated.ts`. The asset and task-result shapes are shared with the events, so they are
 * re-exported from the generated file rather than written twice.
 */
import type {
  Asset,
  AssetCategory,
  ExportGap,
  ExportInfo,
  TaskResult,
  TaskStatus
} from './events.generated';

export type {
  Asset,
  AssetCategory,
  ExportGap,
  ExportInfo,
  TaskResult,
  TaskStatus
};

/** A JSON object of free-form values (node properties, task parameters, metadata). */
export type JSONRecord = { [key: string]: unknown };

/** The project's quality tier; the dispatcher maps it to a pipeline tier. */
export type Quality = 'low' | 'standard' | 'high';

/** All quality tiers, in ascending order. */
export const QUALITIES: readonly Quality[] = ['low', 'standard', 'high'];

/** How the quality tiers read in menus. */
export const QUALITY_LABELS: { readonly [Q in Quality]: string } = {
  low: 'Low — fast drafts',
  standard: 'Standard — balanced',
  high: 'High — final frames'
};

/** What each quality tier means for the takes, shown under the quality pickers. */
export const QUALITY_DESCRIPTIONS: { readonly [Q in Quality]: string } = {
  low: 'Small frames and few steps: takes in seconds, for blocking out a scene.',
  standard:
    'Full-size frames at a moderate step count: good takes at a reasonable speed.',
  high: 'Full size, the most steps and the careful settings: the slowest, for final frames.'
};

/** Where a take is in its life. */
export type TakeStatus = 'generating' | 'completed' | 'error' | 'cancelled';

/** How a take's (or task's) status reads to a person, the same in every panel. */
export const STATUS_LABELS: { readonly [status: string]: string } = {
  pending: 'Queued',
  running: 'Generating',
  generating: 'Generating',
  completed: 'Done',
  error: 'Failed',
  cancelled: 'Cancelled'
};

/** The kinds of node in a project's hierarchy. */
export type HierarchyKind = 'chapter' | 'scene' | 'shot' | 'take';

/** The kinds of node that the nodes endpoint creates. */
export type CreatableKind = 'chapter' | 'scene' | 'shot';

/**
 * Everything the studio can select: a node of the hierarchy, the project itself, an asset or an
 * export (by path).
 */
export type SelectionKind = 'project' | HierarchyKind | 'asset' | 'export';

/** What the studio hands to an editor. */
export type ExportKind = 'animatic' | 'otio' | 'edl' | 'fcpxml' | 'boards';

/** The export kinds in menu order, with how they read. */
export const EXPORT_KINDS: readonly { kind: ExportKind; label: string }[] = [
  { kind: 'animatic', label: 'Animatic (MP4)' },
  { kind: 'otio', label: 'OpenTimelineIO Timeline' },
  { kind: 'edl', label: 'CMX 3600 EDL' },
  { kind: 'fcpxml', label: 'Final Cut Pro 7 XML' },
  { kind: 'boards', label: 'Storyboard Sheet (PDF + PNG)' }
];

/** How an export's kind reads in lists and notices. */
export function exportLabel(kind: string): string {
  const labels: { [kind: string]: string } = {
    animatic: 'Animatic',
    otio: 'OpenTimelineIO',
    edl: 'EDL',
    fcpxml: 'FCP XML',
    boards: 'Boards',
    other: 'File'
  };
  return labels[kind] ?? kind;
}

/** Body of `GET projects/{id}/exports`, newest first. */
export interface IExportList {
  exports: ExportInfo[];
}

/** The media kind of a file, as classified by the server. */
export type MediaKind = Asset['kind'];

/** The asset library's categories as used in URLs, list keys and assets (lower case). */
export type CategoryKey = AssetCategory;

/** The four categories, in display order. */
export const CATEGORY_KEYS: readonly CategoryKey[] = [
  'locations',
  'characters',
  'music',
  'styles'
];

/** Display names of the categories. */
export const CATEGORY_LABELS: { readonly [K in CategoryKey]: string } = {
  locations: 'Locations',
  characters: 'Characters',
  music: 'Music',
  styles: 'Styles'
};

/** Frame size in pixels. */
export interface IResolution {
  width: number;
  height: number;
}

/** Per-project render settings. */
export interface IProjectSettings {
  fps: number;
  resolution: IResolution;
}

/** The node canvas saved with the project. */
export interface ICanvas {
  nodes: JSONRecord[];
  edges: JSONRecord[];
  viewport: JSONRecord;
}

/** One generated result of a shot; `file` is relative to the project root. */
export interface ITake {
  id: string;
  file: string | null;
  pipeline: string;
  parameters: JSONRecord;
  seed: number | null;
  status: TakeStatus;
  created: string;
  taskId?: string | null;
  tier?: string | null;
  thumbnail?: string | null;
  error?: string | null;
}

/** A shot: the unit that takes are generated for. */
export interface IShot {
  id: string;
  name: string;
  duration: number;
  /** What its takes show (unless the request says otherwise). */
  prompt?: string;
  /** What its takes should not show. */
  negativePrompt?: string;
  /** Words added to the prompt (or the pipeline's own `style`). */
  style?: string;
  /** Project-relative paths of reference assets; the first image is the init image. */
  references?: string[];
  properties: JSONRecord;
  takes: ITake[];
  selectedTake: string | null;
}

/** A scene: an ordered list of shots. */
export interface IScene {
  id: string;
  name: string;
  shots: IShot[];
}

/** A chapter: an ordered list of scenes. */
export interface IChapter {
  id: string;
  name: string;
  scenes: IScene[];
}

/** The manifest, `project.json`. */
export interface IProject {
  id: string;
  name: string;
  created: string;
  quality: Quality;
  version: number;
  settings: IProjectSettings;
  canvas: ICanvas;
  chapters: IChapter[];
}

/** Body of `POST projects`. */
export interface IProjectCreate {
  name: string;
  quality: Quality;
  settings?: IProjectSettings;
}

/** Body of `PATCH projects/{id}`: only the fields given change. */
export interface IProjectPatch {
  name?: string;
  quality?: Quality;
  settings?: IProjectSettings;
  canvas?: ICanvas;
}

/** Why a project's manifest cannot be read (`path` is relative to the project). */
export interface IManifestDamage {
  path: string;
  reason: string;
}

/** One row of the project list; `damaged` when its manifest cannot be read. */
export interface IProjectSummary {
  id: string;
  name: string;
  quality: Quality;
  version: number;
  created: string;
  modified: string;
  shotCount: number;
  takeCount: number;
  damaged?: IManifestDamage | null;
}

/** Body of `GET projects`. */
export interface IProjectList {
  projects: IProjectSummary[];
}

/** Body of `POST projects/{id}/nodes`. */
export interface INodeCreate {
  kind: CreatableKind;
  parentId: string | null;
  name: string;
  properties?: JSONRecord;
  duration?: number;
  index?: number;
}

/** Body of `PATCH projects/{id}/nodes/{nodeId}`. */
export interface INodePatch {
  name?: string;
  properties?: JSONRecord;
  duration?: number;
  prompt?: string;
  negativePrompt?: string;
  style?: string;
  references?: string[];
  selectedTake?: string | null;
  parentId?: string | null;
  index?: number;
}

/** A node of the hierarchy as answered by the nodes endpoints. */
export interface INodeInfo {
  id: string;
  kind: HierarchyKind;
  name: string;
  parentId: string | null;
  index: number;
  version: number;
  node: JSONRecord;
}

/** Body of `GET projects/{id}/assets`: every category, even when empty, and its folders. */
export interface IAssetList {
  categories: { [category: string]: Asset[] };
  /** Each category's folders, relative to it (empty ones too). */
  folders?: { [category: string]: string[] };
}

/** Body of `PATCH projects/{id}/assets/{path}`: what is left out stays. */
export interface IAssetMove {
  name?: string;
  category?: string;
  /** Relative to the category; `''` is its top. */
  folder?: string;
}

/** A folder of the asset library (`POST projects/{id}/assets/folders`). */
export interface IAssetFolder {
  category: string;
  folder: string;
  path: string;
}

/** Body of a successful upload: the files now in place. */
export interface IUploadResult {
  assets: Asset[];
}

/** Whether an external tool is usable, with its version or what is wrong. */
export interface IToolHealth {
  ok: boolean;
  version?: string | null;
  message?: string | null;
}

/** Body of `GET workspace/config`. */
export interface IWorkspaceConfig {
  workspace: string;
  projectsDir: string;
  libraryDir: string;
  qualities: Quality[];
  categories: string[];
  maxUploadBytes: number;
  runner: string;
  autoCommit: boolean;
  user: JSONRecord;
  health: { [tool: string]: IToolHealth };
  /** The ComfyUI server the `comfyui` pipeline sends its workflows to. */
  comfyuiUrl?: string;
  /** Whether that URL was set (else it is ComfyUI's default, and ComfyUI may not be used). */
  comfyuiConfigured?: boolean;
}

/** A changed path in the working tree. */
export interface IGitFileStatus {
  path: string;
  status: 'added' | 'modified' | 'deleted' | 'untracked' | 'renamed';
  staged: boolean;
}

/** Body of `GET projects/{id}/git/status`. */
export interface IGitStatus {
  branch: string | null;
  head: string | null;
  clean: boolean;
  files: IGitFileStatus[];
  lfs: boolean;
}

/** The answer to a commit request. */
export interface IGitCommit {
  sha: string;
  message: string;
  author: string;
  email: string;
  date: string;
  files: string[];
}

/** Body of `POST tasks/submit`. */
export interface ITaskSubmit {
  projectId: string;
  nodeId: string;
  pipeline: string;
  parameters: JSONRecord;
  /** Takes of the shot to make at once (default 1), each a task of its own. */
  count?: number;
}

/** Body of a 202 from submit: the (first) task, and every task when `count` asked several. */
export interface ITaskAccepted {
  taskId: string;
  taskIds?: string[];
}

/** A task's record: the status endpoint's body. */
export interface ITaskRecord {
  taskId: string;
  projectId: string;
  nodeId: string;
  pipeline: string;
  parameters: JSONRecord;
  status: TaskStatus;
  progress: number;
  step: string;
  /** The latest preview of the work in progress (project-relative), while it runs. */
  preview?: string | null;
  seq: number;
  result: TaskResult | null;
  error: string | null;
  tier?: string | null;
  takeId?: string | null;
  runner?: string | null;
  attempts?: number;
  created: string;
  started?: string | null;
  finished?: string | null;
}

/** Body of `GET tasks?projectId=`: one page, newest first. */
export interface ITaskList {
  tasks: ITaskRecord[];
  /** Older tasks exist: ask with `cursor: nextCursor`. */
  more?: boolean;
  nextCursor?: string | null;
  /** How many tasks the project's history holds. */
  total?: number | null;
}

/** One parameter of a pipeline, as declared in its `pipeline.toml`. */
export interface IPipelineParameter {
  type: 'string' | 'integer' | 'number' | 'boolean' | string;
  default?: unknown;
  /** Unset bounds arrive as null (pydantic's `None`). */
  minimum?: number | null;
  maximum?: number | null;
  enum?: unknown[] | null;
  description?: string | null;
  /** Integers that must be a multiple of this (e.g. 8 for a frame size). */
  multipleOf?: number | null;
  /**
   * Where the values come from: `models` — a model of the workspace's library; `templates` — a
   * workflow template of the pipeline (`GET pipelines/{id}/templates`).
   */
  source?: 'models' | 'templates' | string | null;
}

/** A pipeline of the registry. */
export interface IPipeline {
  id: string;
  name: string;
  version: string;
  media: string;
  description: string;
  /** What a run makes: a take of a shot, an export, or a file's thumbnail. */
  produces?: 'take' | 'export' | 'thumbnail';
  parameters: { [name: string]: IPipelineParameter };
  tiers: JSONRecord;
  /** False when Python packages it needs are not installed (older servers leave it out). */
  available?: boolean;
  /** The packages it needs that are missing. */
  missing?: string[];
  /** How to install what is missing. */
  hint?: string;
}

/** A model of the workspace's `Library/AI_Models/`, read without loading its weights. */
export interface IModelInfo {
  name: string;
  format: 'diffusers' | 'single-file';
  /** The family, where configs or the checkpoint's header tell it (e.g. stable-diffusion-1). */
  family?: string | null;
  pipelineClass?: string | null;
  /** Bytes on disk. */
  size: number;
  /** Inside `Library/AI_Models/`: the folder, or the checkpoint file. */
  path: string;
}

/** Body of `GET models`. */
export interface IModelList {
  models: IModelInfo[];
  /** The folder the models are read from. */
  folder: string;
}

/** A parameter a workflow template takes, and the node input it sets. */
export interface ITemplateParameter {
  name: string;
  /** `image`: a project file the pipeline uploads to ComfyUI (`init_image`). */
  type: 'string' | 'integer' | 'number' | 'boolean' | 'image' | string;
  /** The value the workflow was exported with (what an unset parameter keeps). */
  default?: unknown;
  minimum?: number | null;
  maximum?: number | null;
  description?: string | null;
  node: string;
  input: string;
  nodeTitle: string;
}

/** A workflow template as listed: what it takes, or why it cannot run. */
export interface ITemplateInfo {
  name: string;
  title: string;
  description?: string;
  source: 'project' | 'library';
  path: string;
  tiers: Quality[];
  media: string;
  parameters: ITemplateParameter[];
  sha256: string;
  error?: string | null;
}

/** Body of `GET pipelines/{id}/templates`: the templates and the one each tier picks. */
export interface ITemplateList {
  templates: ITemplateInfo[];
  tiers: { [quality: string]: string | null };
}

/** Body of `GET pipelines`. */
export interface IPipelineList {
  pipelines: IPipeline[];
}

/** Body of a successful delete: what went, and its item in the trash (to restore it). */
export interface IDeleted {
  deleted: string;
  trashId: string | null;
}

/** What the trash holds an item as: a project, a chapter/scene/shot (`node`), a take, an asset. */
export type TrashKind = 'project' | 'node' | 'take' | 'asset';

/** Something deleted, waiting in the workspace trash (`GET trash`). */
export interface ITrashItem {
  id: string;
  kind: TrashKind;
  /** The project's, node's or file's name ("Take 3" for a take). */
  name: string;
  projectId: string;
  projectName: string;
  /** When it was deleted (ISO 8601). */
  deleted: string;
  /** When the retention period erases it; null when kept until emptied. */
  expires: string | null;
  /** Bytes of files held. */
  size: number;
  /** Project-relative paths of the files held (a project holds its whole folder: []). */
  paths: string[];
  /** chapter, scene, shot or take, for nodes and takes. */
  nodeKind: HierarchyKind | null;
  /** Where it was: its parents' names (chapter, scene, shot) or its asset folder. */
  where: string[];
  parentId: string | null;
  index: number | null;
  takeCount: number;
  version: number | null;
  deletedBy: string | null;
}

/** Body of `GET trash`: newest first. */
export interface ITrashList {
  items: ITrashItem[];
  retentionDays: number;
}

/** Body of `POST trash/{id}/restore`. */
export interface ITrashRestored {
  item: ITrashItem;
  projectId: string;
  version: number | null;
}

/** Body of `DELETE trash`: the ids erased. */
export interface ITrashEmptied {
  deleted: string[];
}

/** Body of the error answers: `{"error": {"code", "message", "details"}}`. */
export interface IErrorBody {
  error: { code: string; message: string; details?: unknown };
}

/** True when a task can change no more. */
export function isFinished(status: TaskStatus): boolean {
  return status === 'completed' || status === 'error' || status === 'cancelled';
}
