/**
 * Test doubles: a manual clock, a fake browser WebSocket, a fake socket and an in-memory REST API.
 */
import { ISignal, Signal } from '@lumino/signaling';
import { vi } from 'vitest';

import type { IStudioAPI, UploadProgressCallback } from '../src/api';
import { StudioAPIError } from '../src/api';
import { EventDispatcher } from '../src/events';
import type { ClientMessage, ServerEvent } from '../src/events.generated';
import type {
  ConnectionState,
  IResyncRequest,
  IStudioSocket,
  ITimers,
  IWebSocketLike
} from '../src/socket';
import type {
  CategoryKey,
  ExportInfo,
  IAssetMove,
  ITaskAccepted,
  IPipeline,
  IProject,
  ITaskList,
  ITaskRecord,
  IUploadResult,
  IWorkspaceConfig
} from '../src/types';

/** A clock that only moves when the test says so. */
export class ManualClock implements ITimers {
  time = 0;
  randomValue = 0;
  private timers = new Map<number, { at: number; callback: () => void }>();
  private nextId = 1;

  setTimeout(callback: () => void, ms: number): unknown {
    const id = this.nextId++;
    this.timers.set(id, { at: this.time + ms, callback });
    return id;
  }

  clearTimeout(handle: unknown): void {
    this.timers.delete(handle as number);
  }

  now(): number {
    return this.time;
  }

  random(): number {
    return this.randomValue;
  }

  /** Delays of the timers now pending, soonest first. */
  pendingDelays(): number[] {
    return [...this.timers.values()]
      .map(t => t.at - this.time)
      .sort((a, b) => a - b);
  }

  /** Move time forward, running every timer that falls due, in order. */
  advance(ms: number): void {
    const end = this.time + ms;
    for (;;) {
      let next: [number, { at: number; callback: () => void }] | null = null;
      for (const entry of this.timers) {
        if (entry[1].at <= end && (!next || entry[1].at < next[1].at)) {
          next = entry;
        }
      }
      if (!next) {
        break;
      }
      this.timers.delete(next[0]);
      this.time = next[1].at;
      next[1].callback();
    }
    this.time = end;
  }
}

/** A stand-in for the browser's WebSocket that the test drives. */
export class FakeWebSocket implements IWebSocketLike {
  static instances: FakeWebSocket[] = [];
  readyState = 0;
  sent: string[] = [];
  closedByClient = false;
  onopen: ((event: Event) => void) | null = null;
  onclose: ((event: CloseEvent) => void) | null = null;
  onerror: ((event: Event) => void) | null = null;
  onmessage: ((event: MessageEvent) => void) | null = null;

  constructor(readonly url: string) {
    FakeWebSocket.instances.push(this);
  }

  static latest(): FakeWebSocket {
    return FakeWebSocket.instances[FakeWebSocket.instances.length - 1];
  }

  send(data: string): void {
    if (this.readyState !== 1) {
      throw new Error('not open');
    }
    this.sent.push(data);
  }

  close(): void {
    this.closedByClient = true;
    this.readyState = 3;
  }

  /** The server accepts the connection. */
  accept(): void {
    this.readyState = 1;
    this.onopen?.(new Event('open'));
  }

  /** The server sends a message. */
  receive(message: object): void {
    this.onmessage?.({ data: JSON.stringify(message) } as MessageEvent);
  }

  /** The connection drops. */
  drop(code = 1006): void {
    this.readyState = 3;
    this.onclose?.({ code } as CloseEvent);
  }

  /** Messages the client sent, parsed. */
  messages(): { type: string }[] {
    return this.sent.map(text => JSON.parse(text));
  }
}

/** A socket double for model tests. */
export class FakeSocket implements IStudioSocket {
  readonly events = new EventDispatcher();
  readonly sent: ClientMessage[] = [];
  state: ConnectionState = 'closed';
  connected = false;
  isDisposed = false;
  private _stateChanged = new Signal<IStudioSocket, ConnectionState>(this);
  private _resync = new Signal<IStudioSocket, IResyncRequest>(this);

  get stateChanged(): ISignal<IStudioSocket, ConnectionState> {
    return this._stateChanged;
  }

  get resync(): ISignal<IStudioSocket, IResyncRequest> {
    return this._resync;
  }

  connect(): void {
    this.connected = true;
    this.setState('connecting');
  }

  send(message: ClientMessage): boolean {
    this.sent.push(message);
    return this.state === 'open';
  }

  reconnectNow(): void {
    this.connect();
  }

  close(): void {
    this.setState('closed');
  }

  dispose(): void {
    this.isDisposed = true;
    this.close();
  }

  setState(state: ConnectionState): void {
    this.state = state;
    this._stateChanged.emit(state);
  }

  /** The server says hello (after a connect or a reconnect). */
  hello(version: number, reconnect: boolean): void {
    this.setState('open');
    const hello = {
      type: 'hello' as const,
      projectId: 'film',
      version,
      clientId: 'c1',
      serverTime: 0
    };
    this._resync.emit({ hello, reconnect });
    this.events.dispatch(hello);
  }

  /** The server sends an event. */
  emit(event: ServerEvent): void {
    this.events.dispatch(event);
  }
}

/** A small project: one chapter, one scene, two shots, the first with two takes. */
export function sampleProject(version = 1): IProject {
  return {
    id: 'film',
    name: 'Film',
    created: '2026-01-01T00:00:00Z',
    quality: 'standard',
    version,
    settings: { fps: 24, resolution: { width: 1280, height: 720 } },
    canvas: { nodes: [], edges: [], viewport: {} },
    chapters: [
      {
        id: 'ch1',
        name: 'Chapter 1',
        scenes: [
          {
            id: 'sc1',
            name: 'Scene 1',
            shots: [
              {
                id: 'sh1',
                name: 'Shot 1',
                duration: 3,
                properties: { lens: '35mm' },
                selectedTake: 't1',
                takes: [
                  {
                    id: 't1',
                    file: '03_Renders/ch1/sc1/sh1/t1.png',
                    pipeline: 'still',
                    parameters: { steps: 20 },
                    seed: 1,
                    status: 'completed',
                    created: '2026-01-01T00:00:01Z'
                  },
                  {
                    id: 't2',
                    file: null,
                    pipeline: 'still',
                    parameters: {},
                    seed: null,
                    status: 'generating',
                    created: '2026-01-01T00:00:02Z',
                    taskId: 'task-2'
                  }
                ]
              },
              {
                id: 'sh2',
                name: 'Shot 2',
                duration: 2,
                properties: {},
                selectedTake: null,
                takes: []
              }
            ]
          }
        ]
      }
    ]
  };
}

/** A task record with defaults. */
export function taskRecord(overrides: Partial<ITaskRecord> = {}): ITaskRecord {
  return {
    taskId: 'task-1',
    projectId: 'film',
    nodeId: 'sh1',
    pipeline: 'still',
    parameters: {},
    status: 'running',
    progress: 0.1,
    step: 'loading',
    seq: 1,
    result: null,
    error: null,
    created: '2026-01-01T00:00:00Z',
    ...overrides
  };
}

/** A workspace config whose tools are all healthy unless told otherwise. */
export function workspaceConfig(
  health: IWorkspaceConfig['health'] = {
    redis: { ok: true },
    git: { ok: true }
  }
): IWorkspaceConfig {
  return {
    workspace: 'ws',
    projectsDir: 'ws/Projects',
    libraryDir: 'ws/Library',
    qualities: ['low', 'standard', 'high'],
    categories: ['locations', 'characters', 'music', 'styles'],
    maxUploadBytes: 1000,
    runner: 'local',
    autoCommit: false,
    user: {},
    health
  };
}

/** An in-memory REST API whose methods are spies. */
export function fakeAPI(project: IProject = sampleProject()) {
  const state = { project, tasks: [] as ITaskRecord[] };
  const api = {
    state,
    getWorkspaceConfig: vi.fn(async () => workspaceConfig()),
    listProjects: vi.fn(async () => ({
      projects: [
        {
          id: state.project.id,
          name: state.project.name,
          quality: state.project.quality,
          version: state.project.version,
          created: state.project.created,
          modified: state.project.created,
          shotCount: 2,
          takeCount: 2
        }
      ]
    })),
    createProject: vi.fn(async () => state.project),
    getProject: vi.fn(async () => structuredClone(state.project)),
    patchProject: vi.fn(async () => state.project),
    deleteProject: vi.fn(async (projectId: string) => ({
      deleted: projectId,
      trashId: 'tr_project'
    })),
    createNode: vi.fn(async () => ({
      id: 'new',
      kind: 'shot' as const,
      name: 'New',
      parentId: 'sc1',
      index: 2,
      version: 2,
      node: {}
    })),
    patchNode: vi.fn(async () => ({
      id: 'sh1',
      kind: 'shot' as const,
      name: 'Shot 1',
      parentId: 'sc1',
      index: 0,
      version: 2,
      node: {}
    })),
    deleteNode: vi.fn(async (_projectId: string, nodeId: string) => ({
      deleted: nodeId,
      trashId: 'tr_node'
    })),
    listExports: vi.fn(async (): Promise<{ exports: ExportInfo[] }> => ({
      exports: []
    })),
    startExport: vi.fn(async () => ({ taskId: 'task-export' })),
    listAssets: vi.fn(async () => ({
      categories: { locations: [], characters: [], music: [], styles: [] },
      folders: { locations: [], characters: ['heroes'], music: [], styles: [] }
    })),
    moveAsset: vi.fn(
      async (projectId: string, path: string, move: IAssetMove) => {
        const name = move.name ?? path.split('/').pop()!;
        const category = (move.category ??
          path.split('/')[1].toLowerCase()) as CategoryKey;
        const folder = move.folder ?? '';
        const top = category[0].toUpperCase() + category.slice(1);
        const where = ['01_Assets', top, ...(folder ? [folder] : []), name];
        return {
          path: where.join('/'),
          name,
          category,
          kind: 'image' as const,
          size: 10,
          modified: '2026-01-01T00:00:00Z',
          url: `gms/api/projects/${projectId}/files/${where.join('/')}`,
          folder
        };
      }
    ),
    deleteAsset: vi.fn(async (_projectId: string, path: string) => ({
      deleted: path,
      trashId: 'tr_asset'
    })),
    createAssetFolder: vi.fn(
      async (_projectId: string, category: string, folder: string) => ({
        category,
        folder,
        path: `01_Assets/${category[0].toUpperCase()}${category.slice(1)}/${folder}`
      })
    ),
    uploadFile: vi.fn(
      async (
        projectId: string,
        category: CategoryKey,
        file: File,
        onProgress?: UploadProgressCallback
      ): Promise<IUploadResult> => {
        onProgress?.(file.size / 2, file.size);
        onProgress?.(file.size, file.size);
        return {
          assets: [
            {
              path: `01_Assets/Characters/${file.name}`,
              name: file.name,
              category: 'characters',
              kind: 'image',
              size: file.size,
              modified: '2026-01-01T00:00:00Z',
              url: `gms/api/projects/film/files/01_Assets/Characters/${file.name}`
            }
          ]
        };
      }
    ),
    getGitStatus: vi.fn(),
    commit: vi.fn(async (projectId: string, message: string) => ({
      sha: 'abcdef0123',
      message,
      author: 'a',
      email: 'e',
      date: '2026-01-01T00:00:00Z',
      files: []
    })),
    submitTask: vi.fn(async (): Promise<ITaskAccepted> => ({
      taskId: 'task-new'
    })),
    getTaskStatus: vi.fn(
      async (taskId: string) =>
        state.tasks.find(task => task.taskId === taskId) ??
        taskRecord({ taskId, seq: 0, parameters: { steps: 8 } })
    ),
    listTasks: vi.fn(
      async (
        _projectId: string,
        _cursor?: string | null
      ): Promise<ITaskList> => ({ tasks: structuredClone(state.tasks) })
    ),
    cancelTask: vi.fn(async () => undefined),
    listPipelines: vi.fn(async () => ({ pipelines: [] as IPipeline[] })),
    listModels: vi.fn(async () => ({
      models: [
        {
          name: 'tiny-sd',
          format: 'diffusers' as const,
          family: 'stable-diffusion-1',
          pipelineClass: 'StableDiffusionPipeline',
          size: 524_288,
          path: 'tiny-sd'
        }
      ],
      folder: 'ws/Library/AI_Models'
    })),
    listTemplates: vi.fn(async () => ({
      templates: [],
      tiers: { low: null, standard: null, high: null }
    })),
    getQualityMappings: vi.fn(async () => ({})),
    fileUrl: (projectId: string, path: string) =>
      `http://lab/gms/api/projects/${projectId}/files/${path}`,
    resolveUrl: (url: string) => `http://lab/${url}`
  } satisfies IStudioAPI & { state: unknown };
  return api;
}

/** A conflict answer, as the server sends it for a stale `If-Match`. */
export function conflict(): StudioAPIError {
  return new StudioAPIError('version_conflict', 'stale version', 409);
}

/** Let pending promise callbacks run. */
export async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) {
    await Promise.resolve();
  }
}
