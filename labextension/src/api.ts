/**
 * The typed REST client of the gms server extension: one method per endpoint under `gms/api/`.
 */
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

import type {
  CategoryKey,
  IDeleted,
  Asset,
  IAssetFolder,
  IAssetList,
  IAssetMove,
  IExportList,
  ExportKind,
  IErrorBody,
  IGitCommit,
  IGitStatus,
  INodeCreate,
  INodeInfo,
  INodePatch,
  IModelList,
  IPipelineList,
  IProject,
  IProjectCreate,
  IProjectList,
  IProjectPatch,
  ITaskAccepted,
  ITaskList,
  ITaskRecord,
  ITaskSubmit,
  ITemplateList,
  ITrashEmptied,
  ITrashList,
  ITrashRestored,
  IUploadResult,
  IWorkspaceConfig,
  JSONRecord
} from './types';

/** The path of the REST API under the server's base URL. */
export const API_NAMESPACE = 'gms/api';

/** Error codes the client produces itself (the server's own codes pass through unchanged). */
export const ClientErrorCodes = {
  /** The server could not be reached at all. */
  network: 'network_error',
  /** The server answered something that is not the expected JSON. */
  badResponse: 'bad_response',
  /** The request was aborted by the client. */
  aborted: 'aborted'
} as const;

/**
 * A failed request: the server's `{"error": {code, message, details}}`, or a client-side failure.
 */
export class StudioAPIError extends Error {
  /**
   * @param code - machine-readable code, e.g. `version_conflict`, `not_found`, `network_error`
   * @param message - the server's human-readable message
   * @param status - the HTTP status, 0 when no answer came
   * @param details - anything else the server attached
   */
  constructor(
    readonly code: string,
    message: string,
    readonly status = 0,
    readonly details: unknown = null
  ) {
    super(message);
    this.name = 'StudioAPIError';
  }

  /** True when the write was refused because the client's version is stale (HTTP 409). */
  get isConflict(): boolean {
    return this.code === 'version_conflict' || this.status === 409;
  }

  /** True when the server could not be reached. */
  get isNetwork(): boolean {
    return this.code === ClientErrorCodes.network;
  }
}

/** Upload progress: bytes sent so far and the total, when known. */
export type UploadProgressCallback = (loaded: number, total: number) => void;

/** The subset of `XMLHttpRequest` the upload uses, so that tests can replace it. */
export type XHRFactory = () => XMLHttpRequest;

/**
 * The REST surface the studio model depends on; `StudioClient` implements it over HTTP and tests
 * substitute a fake.
 */
export interface IStudioAPI {
  /** Paths, quality tiers and tool health: `GET workspace/config`. */
  getWorkspaceConfig(): Promise<IWorkspaceConfig>;
  /** `GET projects`. */
  listProjects(): Promise<IProjectList>;
  /** `POST projects` → 201 with the manifest. */
  createProject(body: IProjectCreate): Promise<IProject>;
  /** `GET projects/{id}`. */
  getProject(projectId: string): Promise<IProject>;
  /** `PATCH projects/{id}` with `If-Match: version`; 409 `version_conflict` when stale. */
  patchProject(
    projectId: string,
    patch: IProjectPatch,
    version: number
  ): Promise<IProject>;
  /** `DELETE projects/{id}`: to the trash (`trashId` restores it). */
  deleteProject(projectId: string): Promise<IDeleted>;
  /** `POST projects/{id}/nodes` → 201 with the node. */
  createNode(projectId: string, body: INodeCreate): Promise<INodeInfo>;
  /** `PATCH projects/{id}/nodes/{nodeId}`, with `If-Match` when a version is given. */
  patchNode(
    projectId: string,
    nodeId: string,
    patch: INodePatch,
    version?: number
  ): Promise<INodeInfo>;
  /** `DELETE projects/{id}/nodes/{nodeId}`: to the trash, with its files (`trashId`). */
  deleteNode(
    projectId: string,
    nodeId: string,
    version?: number
  ): Promise<IDeleted>;
  /** `GET projects/{id}/assets`. */
  listAssets(projectId: string): Promise<IAssetList>;
  /** `GET projects/{id}/exports`: the project's exports, newest first. */
  listExports(projectId: string): Promise<IExportList>;
  /** `POST projects/{id}/exports` → 202 with the task id; `scope` null for the film. */
  startExport(
    projectId: string,
    kind: ExportKind,
    scope: string | null
  ): Promise<ITaskAccepted>;
  /** `PATCH projects/{id}/assets/{path}`: rename or move an asset → the asset at its new place. */
  moveAsset(projectId: string, path: string, move: IAssetMove): Promise<Asset>;
  /** `DELETE projects/{id}/assets/{path}`: the asset (or folder) to the trash. */
  deleteAsset(projectId: string, path: string): Promise<IDeleted>;
  /** `POST projects/{id}/assets/folders` → 201 with the folder. */
  createAssetFolder(
    projectId: string,
    category: string,
    folder: string
  ): Promise<IAssetFolder>;
  /** `POST projects/{id}/files?category=&name=` with the raw file as the body. */
  uploadFile(
    projectId: string,
    category: CategoryKey,
    file: File,
    onProgress?: UploadProgressCallback,
    signal?: AbortSignal
  ): Promise<IUploadResult>;
  /** `GET projects/{id}/git/status`. */
  getGitStatus(projectId: string): Promise<IGitStatus>;
  /** `POST projects/{id}/git/commit`. */
  commit(projectId: string, message: string): Promise<IGitCommit>;
  /** `POST tasks/submit` → 202 with the task id. */
  submitTask(body: ITaskSubmit): Promise<ITaskAccepted>;
  /** `GET tasks/{id}/status`. */
  getTaskStatus(taskId: string): Promise<ITaskRecord>;
  /**
   * `GET tasks?projectId=&limit=&cursor=`: one page of the project's tasks, newest first;
   * `more` says older ones exist (pass `nextCursor` back as `cursor` for them).
   */
  listTasks(
    projectId: string,
    cursor?: string | null,
    limit?: number
  ): Promise<ITaskList>;
  /** `POST tasks/{id}/cancel`; the outcome arrives as a `task_failed` event. */
  cancelTask(taskId: string): Promise<void>;
  /** `GET pipelines`. */
  listPipelines(): Promise<IPipelineList>;
  /** `GET models`: the workspace's model library. */
  listModels(): Promise<IModelList>;
  /** `GET pipelines/{id}/templates?projectId=`: a template pipeline's workflow templates. */
  listTemplates(
    pipeline: string,
    projectId?: string | null
  ): Promise<ITemplateList>;
  /** `GET quality/mappings`. */
  getQualityMappings(): Promise<JSONRecord>;
  /** The absolute URL of a project file (`GET projects/{id}/files/{path}`), for `<img>` and co. */
  fileUrl(projectId: string, path: string): string;
  /** The absolute URL of a server-relative URL such as an asset's `url` or `thumbnail`. */
  resolveUrl(url: string): string;
}

/** The workspace trash's REST surface (`gms/api/trash`); `StudioClient` implements it. */
export interface ITrashAPI {
  /** `GET trash[?projectId=]`: what was deleted, newest first. */
  listTrash(projectId?: string | null): Promise<ITrashList>;
  /** `POST trash/{id}/restore`: put it back; 409 `restore_conflict` when it cannot go back. */
  restoreTrashItem(itemId: string): Promise<ITrashRestored>;
  /** `DELETE trash/{id}`: erase one item for good. */
  eraseTrashItem(itemId: string): Promise<void>;
  /** `DELETE trash[?projectId=]`: erase everything (of one project). */
  emptyTrash(projectId?: string | null): Promise<ITrashEmptied>;
}

/**
 * Send a request to `gms/api/{endPoint}` and parse the JSON answer.
 *
 * @param endPoint - path under `gms/api/`, with its query string
 * @param init - fetch options; a JSON body is sent with its content type
 * @param settings - server settings, `ServerConnection.makeSettings()` by default
 * @returns the parsed body (undefined for an empty one)
 * @throws StudioAPIError with the server's code and message, or `network_error`
 */
export async function requestAPI<T>(
  endPoint: string,
  init: RequestInit = {},
  settings: ServerConnection.ISettings = ServerConnection.makeSettings()
): Promise<T> {
  const url = URLExt.join(settings.baseUrl, API_NAMESPACE, endPoint);
  const headers = new Headers(init.headers ?? {});
  if (typeof init.body === 'string' && !headers.has('Content-Type')) {
    headers.set('Content-Type', 'application/json');
  }
  let response: Response;
  try {
    response = await ServerConnection.makeRequest(
      url,
      { ...init, headers },
      settings
    );
  } catch (error) {
    throw new StudioAPIError(
      ClientErrorCodes.network,
      `The server cannot be reached: ${(error as Error).message ?? error}`
    );
  }
  const text = await response.text();
  let data: unknown = undefined;
  if (text.length > 0) {
    try {
      data = JSON.parse(text);
    } catch {
      if (response.ok) {
        throw new StudioAPIError(
          ClientErrorCodes.badResponse,
          `Not JSON from ${endPoint}: ${text.slice(0, 200)}`,
          response.status
        );
      }
      data = text;
    }
  }
  if (!response.ok) {
    throw errorFromBody(response.status, data, endPoint);
  }
  return data as T;
}

/**
 * Turn an error answer into a `StudioAPIError`, keeping the server's code and message.
 *
 * @param status - HTTP status
 * @param body - parsed body, or the raw text when it was not JSON
 * @param endPoint - what was asked, for the fallback message
 */
export function errorFromBody(
  status: number,
  body: unknown,
  endPoint: string
): StudioAPIError {
  const error = (body as Partial<IErrorBody> | null)?.error;
  if (error && typeof error.code === 'string') {
    return new StudioAPIError(
      error.code,
      error.message ?? error.code,
      status,
      error.details ?? null
    );
  }
  // Jupyter's own handlers answer `{"message", "reason"}` (403 without a token, for instance).
  const jupyter = body as { message?: string; reason?: string } | null;
  const message =
    (typeof body === 'string' && body) ||
    jupyter?.message ||
    jupyter?.reason ||
    `${endPoint} answered HTTP ${status}`;
  return new StudioAPIError(
    status === 409 ? 'version_conflict' : `http_${status}`,
    message,
    status,
    body
  );
}

/** The value of a cookie of the page, e.g. `_xsrf`. */
export function getCookie(name: string): string | undefined {
  if (typeof document === 'undefined') {
    return undefined;
  }
  const match = document.cookie.match('\\b' + name + '=([^;]*)\\b');
  return match ? decodeURIComponent(match[1]) : undefined;
}

/** Percent-encode each segment of a relative path, keeping its slashes. */
export function encodePath(path: string): string {
  return path
    .split('/')
    .filter(part => part.length > 0)
    .map(encodeURIComponent)
    .join('/');
}

/**
 * The REST client over `ServerConnection`: one method per endpoint of the contract.
 */
export class StudioClient implements IStudioAPI {
  /**
   * @param settings - server settings; `ServerConnection.makeSettings()` when omitted
   * @param xhrFactory - how to make the upload request (tests inject a fake)
   */
  constructor(
    readonly settings: ServerConnection.ISettings = ServerConnection.makeSettings(),
    private readonly xhrFactory: XHRFactory = () => new XMLHttpRequest()
  ) {}

  private request<T>(endPoint: string, init: RequestInit = {}): Promise<T> {
    return requestAPI<T>(endPoint, init, this.settings);
  }

  private static json(
    method: string,
    body: unknown,
    version?: number
  ): RequestInit {
    const headers: Record<string, string> = {};
    if (version !== undefined) {
      headers['If-Match'] = String(version);
    }
    return { method, body: JSON.stringify(body), headers };
  }

  private static projectPath(projectId: string, rest = ''): string {
    return `projects/${encodeURIComponent(projectId)}${rest}`;
  }

  getWorkspaceConfig(): Promise<IWorkspaceConfig> {
    return this.request('workspace/config');
  }

  listProjects(): Promise<IProjectList> {
    return this.request('projects');
  }

  createProject(body: IProjectCreate): Promise<IProject> {
    return this.request('projects', StudioClient.json('POST', body));
  }

  getProject(projectId: string): Promise<IProject> {
    return this.request(StudioClient.projectPath(projectId));
  }

  patchProject(
    projectId: string,
    patch: IProjectPatch,
    version: number
  ): Promise<IProject> {
    return this.request(
      StudioClient.projectPath(projectId),
      StudioClient.json('PATCH', patch, version)
    );
  }

  deleteProject(projectId: string): Promise<IDeleted> {
    return this.request(StudioClient.projectPath(projectId), {
      method: 'DELETE'
    });
  }

  createNode(projectId: string, body: INodeCreate): Promise<INodeInfo> {
    return this.request(
      StudioClient.projectPath(projectId, '/nodes'),
      StudioClient.json('POST', body)
    );
  }

  patchNode(
    projectId: string,
    nodeId: string,
    patch: INodePatch,
    version?: number
  ): Promise<INodeInfo> {
    return this.request(
      StudioClient.projectPath(
        projectId,
        `/nodes/${encodeURIComponent(nodeId)}`
      ),
      StudioClient.json('PATCH', patch, version)
    );
  }

  deleteNode(
    projectId: string,
    nodeId: string,
    version?: number
  ): Promise<IDeleted> {
    const headers: Record<string, string> = {};
    if (version !== undefined) {
      headers['If-Match'] = String(version);
    }
    return this.request(
      StudioClient.projectPath(
        projectId,
        `/nodes/${encodeURIComponent(nodeId)}`
      ),
      { method: 'DELETE', headers }
    );
  }

  listAssets(projectId: string): Promise<IAssetList> {
    return this.request(StudioClient.projectPath(projectId, '/assets'));
  }

  listExports(projectId: string): Promise<IExportList> {
    return this.request(StudioClient.projectPath(projectId, '/exports'));
  }

  startExport(
    projectId: string,
    kind: ExportKind,
    scope: string | null
  ): Promise<ITaskAccepted> {
    return this.request(
      StudioClient.projectPath(projectId, '/exports'),
      StudioClient.json('POST', { kind, scope })
    );
  }

  moveAsset(projectId: string, path: string, move: IAssetMove): Promise<Asset> {
    return this.request(
      StudioClient.projectPath(projectId, `/assets/${encodePath(path)}`),
      StudioClient.json('PATCH', move)
    );
  }

  deleteAsset(projectId: string, path: string): Promise<IDeleted> {
    return this.request(
      StudioClient.projectPath(projectId, `/assets/${encodePath(path)}`),
      { method: 'DELETE' }
    );
  }

  createAssetFolder(
    projectId: string,
    category: string,
    folder: string
  ): Promise<IAssetFolder> {
    return this.request(
      StudioClient.projectPath(projectId, '/assets/folders'),
      StudioClient.json('POST', { category, folder })
    );
  }

  uploadFile(
    projectId: string,
    category: CategoryKey,
    file: File,
    onProgress?: UploadProgressCallback,
    signal?: AbortSignal
  ): Promise<IUploadResult> {
    const query = URLExt.objectToQueryString({ category, name: file.name });
    const url = URLExt.join(
      this.settings.baseUrl,
      API_NAMESPACE,
      StudioClient.projectPath(projectId, '/files')
    );
    return new Promise<IUploadResult>((resolve, reject) => {
      const xhr = this.xhrFactory();
      xhr.open('POST', url + query);
      // Authenticate like ServerConnection does: the token when there is one, the XSRF cookie.
      if (this.settings.token) {
        xhr.setRequestHeader('Authorization', `token ${this.settings.token}`);
      }
      const xsrf = getCookie('_xsrf');
      if (xsrf) {
        xhr.setRequestHeader('X-XSRFToken', xsrf);
      }
      xhr.setRequestHeader(
        'Content-Type',
        file.type || 'application/octet-stream'
      );
      xhr.upload.onprogress = (event: ProgressEvent) => {
        onProgress?.(
          event.loaded,
          event.lengthComputable ? event.total : file.size
        );
      };
      xhr.onload = () => {
        let body: unknown = null;
        try {
          body = xhr.responseText ? JSON.parse(xhr.responseText) : null;
        } catch {
          body = xhr.responseText;
        }
        if (xhr.status >= 200 && xhr.status < 300) {
          onProgress?.(file.size, file.size);
          resolve(body as IUploadResult);
        } else {
          reject(errorFromBody(xhr.status, body, 'upload'));
        }
      };
      xhr.onerror = () => {
        reject(
          new StudioAPIError(
            ClientErrorCodes.network,
            `Upload of ${file.name} failed: the server cannot be reached`
          )
        );
      };
      xhr.onabort = () => {
        reject(
          new StudioAPIError(
            ClientErrorCodes.aborted,
            `Upload of ${file.name} cancelled`
          )
        );
      };
      signal?.addEventListener('abort', () => xhr.abort(), { once: true });
      xhr.send(file);
    });
  }

  getGitStatus(projectId: string): Promise<IGitStatus> {
    return this.request(StudioClient.projectPath(projectId, '/git/status'));
  }

  commit(projectId: string, message: string): Promise<IGitCommit> {
    return this.request(
      StudioClient.projectPath(projectId, '/git/commit'),
      StudioClient.json('POST', { message })
    );
  }

  submitTask(body: ITaskSubmit): Promise<ITaskAccepted> {
    return this.request('tasks/submit', StudioClient.json('POST', body));
  }

  getTaskStatus(taskId: string): Promise<ITaskRecord> {
    return this.request(`tasks/${encodeURIComponent(taskId)}/status`);
  }

  listTasks(
    projectId: string,
    cursor?: string | null,
    limit?: number
  ): Promise<ITaskList> {
    const query: Record<string, string> = { projectId };
    if (cursor) {
      query.cursor = cursor;
    }
    if (limit !== undefined) {
      query.limit = String(limit);
    }
    return this.request(`tasks${URLExt.objectToQueryString(query)}`);
  }

  async cancelTask(taskId: string): Promise<void> {
    await this.request(`tasks/${encodeURIComponent(taskId)}/cancel`, {
      method: 'POST'
    });
  }

  listPipelines(): Promise<IPipelineList> {
    return this.request('pipelines');
  }

  listModels(): Promise<IModelList> {
    return this.request('models');
  }

  listTemplates(
    pipeline: string,
    projectId?: string | null
  ): Promise<ITemplateList> {
    const query = projectId ? URLExt.objectToQueryString({ projectId }) : '';
    return this.request(
      `pipelines/${encodeURIComponent(pipeline)}/templates${query}`
    );
  }

  listTrash(projectId?: string | null): Promise<ITrashList> {
    const query = projectId ? URLExt.objectToQueryString({ projectId }) : '';
    return this.request(`trash${query}`);
  }

  restoreTrashItem(itemId: string): Promise<ITrashRestored> {
    return this.request(`trash/${encodeURIComponent(itemId)}/restore`, {
      method: 'POST'
    });
  }

  async eraseTrashItem(itemId: string): Promise<void> {
    await this.request(`trash/${encodeURIComponent(itemId)}`, {
      method: 'DELETE'
    });
  }

  emptyTrash(projectId?: string | null): Promise<ITrashEmptied> {
    const query = projectId ? URLExt.objectToQueryString({ projectId }) : '';
    return this.request(`trash${query}`, { method: 'DELETE' });
  }

  getQualityMappings(): Promise<JSONRecord> {
    return this.request('quality/mappings');
  }

  fileUrl(projectId: string, path: string): string {
    return URLExt.join(
      this.settings.baseUrl,
      API_NAMESPACE,
      StudioClient.projectPath(projectId, `/files/${encodePath(path)}`)
    );
  }

  resolveUrl(url: string): string {
    if (/^[a-z][a-z0-9+.-]*:/i.test(url)) {
      return url;
    }
    return URLExt.join(this.settings.baseUrl, url.replace(/^\/+/, ''));
  }
}
