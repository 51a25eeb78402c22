/**
 * The REST client: URLs, If-Match, error bodies and the XHR upload with progress.
 */
import { ServerConnection } from '@jupyterlab/services';
import { afterEach, describe, expect, it, vi } from 'vitest';

import {
  encodePath,
  requestAPI,
  StudioAPIError,
  StudioClient
} from '../src/api';

type Call = { url: string; method: string; headers: Headers; body: string };

function settingsWith(
  respond: (call: Call) => Response | Promise<Response>,
  token = ''
) {
  const calls: Call[] = [];
  const fetch = vi.fn(async (input: RequestInfo) => {
    const request = input as Request;
    const call: Call = {
      // ServerConnection appends a cache-busting timestamp; the contract is the rest.
      url: request.url.replace(/[?&]\d{10,}$/, ''),
      method: request.method,
      headers: request.headers,
      body: await request.clone().text()
    };
    calls.push(call);
    return respond(call);
  });
  const settings = ServerConnection.makeSettings({
    baseUrl: 'http://lab.test/base/',
    wsUrl: 'ws://lab.test/base/',
    token,
    fetch
  });
  return { settings, calls };
}

const json = (status: number, body: unknown) =>
  new Response(JSON.stringify(body), {
    status,
    headers: { 'Content-Type': 'application/json' }
  });

describe('requestAPI', () => {
  it('joins gms/api to the base URL and parses JSON', async () => {
    const { settings, calls } = settingsWith(() => json(200, { projects: [] }));
    const body = await requestAPI<{ projects: unknown[] }>(
      'projects',
      {},
      settings
    );
    expect(body).toEqual({ projects: [] });
    expect(calls[0].url).toBe('http://lab.test/base/gms/api/projects');
  });

  it("turns the server's error body into a StudioAPIError", async () => {
    const { settings } = settingsWith(() =>
      json(404, {
        error: {
          code: 'project_not_found',
          message: 'No project "x"',
          details: { id: 'x' }
        }
      })
    );
    const error = (await requestAPI('projects/x', {}, settings).catch(
      e => e
    )) as StudioAPIError;
    expect(error).toBeInstanceOf(StudioAPIError);
    expect(error.code).toBe('project_not_found');
    expect(error.message).toBe('No project "x"');
    expect(error.status).toBe(404);
    expect(error.details).toEqual({ id: 'x' });
  });

  it('recognises a stale version (409) as a conflict', async () => {
    const { settings } = settingsWith(() =>
      json(409, { error: { code: 'version_conflict', message: 'stale' } })
    );
    const error = (await requestAPI('projects/x', {}, settings).catch(
      e => e
    )) as StudioAPIError;
    expect(error.isConflict).toBe(true);
  });

  it('keeps Jupyter-style errors readable (403 without a token)', async () => {
    const { settings } = settingsWith(() =>
      json(403, { message: 'Forbidden', reason: null })
    );
    const error = (await requestAPI('projects', {}, settings).catch(
      e => e
    )) as StudioAPIError;
    expect(error.code).toBe('http_403');
    expect(error.message).toBe('Forbidden');
  });

  it('reports an unreachable server as a network error', async () => {
    const { settings } = settingsWith(() => {
      throw new TypeError('Failed to fetch');
    });
    const error = (await requestAPI('projects', {}, settings).catch(
      e => e
    )) as StudioAPIError;
    expect(error.isNetwork).toBe(true);
  });
});

describe('StudioClient', () => {
  it('sends If-Match with the version on project and node patches', async () => {
    const { settings, calls } = settingsWith(() => json(200, {}));
    const client = new StudioClient(settings);
    await client.patchProject('my film', { name: 'B' }, 7);
    await client.patchNode('film', 'sh1', { duration: 2 });
    await client.patchNode('film', 'sh1', { duration: 2 }, 8);

    const headers = calls.map(c => c.headers);
    expect(calls[0].url).toBe(
      'http://lab.test/base/gms/api/projects/my%20film'
    );
    expect(calls[0].method).toBe('PATCH');
    expect(headers[0].get('If-Match')).toBe('7');
    expect(headers[0].get('Content-Type')).toBe('application/json');
    expect(JSON.parse(calls[0].body)).toEqual({ name: 'B' });
    expect(headers[1].get('If-Match')).toBeNull();
    expect(headers[2].get('If-Match')).toBe('8');
  });

  it('builds the task, node and file URLs of the contract', async () => {
    const { settings, calls } = settingsWith(call =>
      call.method === 'POST' && call.url.endsWith('submit')
        ? json(202, { taskId: 't1' })
        : json(200, { tasks: [] })
    );
    const client = new StudioClient(settings);
    expect(
      await client.submitTask({
        projectId: 'film',
        nodeId: 'sh1',
        pipeline: 'still',
        parameters: {}
      })
    ).toEqual({ taskId: 't1' });
    await client.listTasks('film');
    await client.listTasks('film', '1.5:abc', 50);
    await client.createNode('film', {
      kind: 'scene',
      parentId: 'ch1',
      name: 'S'
    });

    expect(calls.map(c => c.url)).toEqual([
      'http://lab.test/base/gms/api/tasks/submit',
      'http://lab.test/base/gms/api/tasks?projectId=film',
      'http://lab.test/base/gms/api/tasks?projectId=film&cursor=1.5%3Aabc&limit=50',
      'http://lab.test/base/gms/api/projects/film/nodes'
    ]);
    expect(client.fileUrl('film', '03_Renders/ch 1/t1.png')).toBe(
      'http://lab.test/base/gms/api/projects/film/files/03_Renders/ch%201/t1.png'
    );
    expect(client.resolveUrl('gms/api/projects/film/files/a.png')).toBe(
      'http://lab.test/base/gms/api/projects/film/files/a.png'
    );
    expect(client.resolveUrl('https://cdn.test/a.png')).toBe(
      'https://cdn.test/a.png'
    );
    expect(encodePath('/a b/c#d/')).toBe('a%20b/c%23d');
  });
});

/** A scripted XMLHttpRequest. */
class FakeXHR {
  static last: FakeXHR;
  method = '';
  url = '';
  headers: Record<string, string> = {};
  body: unknown;
  status = 0;
  responseText = '';
  upload: { onprogress: ((event: ProgressEvent) => void) | null } = {
    onprogress: null
  };
  onload: (() => void) | null = null;
  onerror: (() => void) | null = null;
  onabort: (() => void) | null = null;
  constructor() {
    FakeXHR.last = this;
  }
  static create(): XMLHttpRequest {
    return new FakeXHR() as unknown as XMLHttpRequest;
  }
  open(method: string, url: string) {
    this.method = method;
    this.url = url;
  }
  setRequestHeader(name: string, value: string) {
    this.headers[name] = value;
  }
  send(body: unknown) {
    this.body = body;
  }
  abort() {
    this.onabort?.();
  }
  progress(loaded: number, total: number) {
    this.upload.onprogress?.({
      loaded,
      total,
      lengthComputable: true
    } as ProgressEvent);
  }
  respond(status: number, body: unknown) {
    this.status = status;
    this.responseText = JSON.stringify(body);
    this.onload?.();
  }
}

describe('StudioClient.uploadFile', () => {
  afterEach(() => {
    document.cookie = '_xsrf=; expires=Thu, 01 Jan 1970 00:00:00 GMT';
  });

  it('streams the raw file with auth headers and reports progress', async () => {
    document.cookie = '_xsrf=xsrf-value';
    const { settings } = settingsWith(() => json(200, {}), 'tok');
    const client = new StudioClient(settings, () => FakeXHR.create());
    const file = new File(['0123456789'], 'hero one.png', {
      type: 'image/png'
    });
    const progress: [number, number][] = [];

    const done = client.uploadFile('film', 'characters', file, (l, t) =>
      progress.push([l, t])
    );
    const xhr = FakeXHR.last;
    xhr.progress(4, 10);
    xhr.respond(201, { assets: [{ name: 'hero one.png' }] });
    const result = await done;

    expect(xhr.method).toBe('POST');
    expect(xhr.url).toBe(
      'http://lab.test/base/gms/api/projects/film/files?category=characters&name=hero%20one.png'
    );
    expect(xhr.body).toBe(file);
    expect(xhr.headers).toMatchObject({
      Authorization: 'token tok',
      'X-XSRFToken': 'xsrf-value',
      'Content-Type': 'image/png'
    });
    expect(progress).toEqual([
      [4, 10],
      [10, 10]
    ]);
    expect(result.assets[0].name).toBe('hero one.png');
  });

  it("rejects with the server's error", async () => {
    const { settings } = settingsWith(() => json(200, {}));
    const client = new StudioClient(settings, () => FakeXHR.create());
    const done = client.uploadFile('film', 'music', new File(['x'], 'a.exe'));
    FakeXHR.last.respond(415, {
      error: { code: 'unsupported_type', message: 'no .exe' }
    });
    await expect(done).rejects.toMatchObject({
      code: 'unsupported_type',
      status: 415
    });
  });

  it('can be aborted', async () => {
    const { settings } = settingsWith(() => json(200, {}));
    const client = new StudioClient(settings, () => FakeXHR.create());
    const controller = new AbortController();
    const done = client.uploadFile(
      'film',
      'music',
      new File(['x'], 'a.mp3'),
      undefined,
      controller.signal
    );
    controller.abort();
    await expect(done).rejects.toMatchObject({ code: 'aborted' });
  });
});
