/**
 * The studio model: task seq ordering, resync after reconnect, selection, uploads, conflicts and
 * recovery from an outage. The REST API and the socket are in-memory doubles.
 */
import { beforeEach, describe, expect, it, vi } from 'vitest';

import { StudioAPIError } from '../src/api';
import type { INotice, IUploadState } from '../src/model';
import { StudioModel } from '../src/model';
import { toastLifetime } from '../src/models/notices';
import { comfyuiTrouble } from '../src/panels/statusBanner';
import {
  conflict,
  fakeAPI,
  FakeSocket,
  ManualClock,
  sampleProject,
  settle,
  taskRecord,
  workspaceConfig
} from './fakes';

function setup() {
  const api = fakeAPI();
  const clock = new ManualClock();
  const sockets: FakeSocket[] = [];
  const model = new StudioModel({
    api,
    timers: clock,
    createSocket: () => {
      const socket = new FakeSocket();
      sockets.push(socket);
      return socket;
    },
    healthIntervalMs: { healthy: 30_000, unhealthy: 5_000 }
  });
  const notices: INotice[] = [];
  model.notices.notified.connect((_, notice) => notices.push(notice));
  return { api, clock, sockets, model, notices };
}

const progress = (seq: number, value: number, step = `step ${seq}`) => ({
  type: 'task_progress' as const,
  taskId: 'task-1',
  nodeId: 'sh1',
  progress: value,
  step,
  status: 'running' as const,
  seq,
  pipeline: 'still',
  preview: null
});

/** What an animatic export of the scene Dawn made (a `task_success`'s `export`). */
const animaticOfDawn = {
  kind: 'animatic' as const,
  scope: 'sc1',
  scopeKind: 'scene' as const,
  scopeName: 'Dawn',
  path: '06_Exports/animatic-dawn.mp4',
  created: '2026-11-27T03:00:00Z',
  size: 1000,
  url: '/files/animatic-dawn.mp4'
};

/** The first progress event of an animatic export of the scene `sc1`. */
const cutting = (taskId: string) => ({
  type: 'task_progress' as const,
  taskId,
  nodeId: 'sc1',
  seq: 1,
  progress: 0.5,
  step: 'cutting',
  status: 'running' as const,
  pipeline: 'animatic',
  preview: null
});

/** The end of an animatic export of the scene `sc1`: its event. */
const exported = (taskId: string) => ({
  type: 'task_success' as const,
  taskId,
  nodeId: 'sc1',
  seq: 3,
  result: { outputPath: animaticOfDawn.path, export: animaticOfDawn }
});

/** The record of an animatic export of the scene `sc1`, read once it ended. */
const exportedRecord = (taskId: string) =>
  taskRecord({
    taskId,
    nodeId: 'sc1',
    pipeline: 'animatic',
    status: 'completed',
    progress: 1,
    seq: 3,
    result: { outputPath: animaticOfDawn.path, export: animaticOfDawn }
  });

describe('StudioModel: opening a project', () => {
  it('reads the manifest, tasks and assets, selects the project and connects', async () => {
    const { api, model, sockets } = setup();
    api.state.tasks = [taskRecord()];
    await model.projects.open('film');

    expect(model.projects.current?.name).toBe('Film');
    expect(model.selection.current).toEqual({ kind: 'project', id: 'film' });
    expect(model.tasks.get('task-1')?.step).toBe('loading');
    expect(Object.keys(model.assets.list!.categories).sort()).toEqual([
      'characters',
      'locations',
      'music',
      'styles'
    ]);
    expect(sockets).toHaveLength(1);
    expect(sockets[0].connected).toBe(true);
  });

  it('closes the old socket when another project is opened', async () => {
    const { model, sockets } = setup();
    await model.projects.open('film');
    await model.projects.open(null);
    expect(sockets[0].isDisposed).toBe(true);
    expect(model.projects.current).toBeNull();
    expect(model.connection.state).toBe('closed');
  });

  it('follows the socket state', async () => {
    const { model, sockets } = setup();
    const states: string[] = [];
    model.connection.stateChanged.connect((_, state) => states.push(state));
    await model.projects.open('film');
    sockets[0].hello(1, false);
    expect(states).toEqual(['connecting', 'open']);
  });
});

describe('StudioModel: task events are ordered by seq', () => {
  let ctx: ReturnType<typeof setup>;

  beforeEach(async () => {
    ctx = setup();
    await ctx.model.projects.open('film');
  });

  it('applies newer events and drops older or repeated ones', () => {
    const { model, sockets } = ctx;
    const socket = sockets[0];
    socket.emit(progress(1, 0.1));
    socket.emit(progress(3, 0.3));
    socket.emit(progress(2, 0.2)); // late: older than 3
    socket.emit(progress(3, 0.99)); // repeated seq

    const task = model.tasks.get('task-1')!;
    expect(task.seq).toBe(3);
    expect(task.progress).toBe(0.3);
    expect(task.step).toBe('step 3');
  });

  it('ends a task on success and ignores progress that arrives after it', async () => {
    const { model, sockets, notices } = ctx;
    const socket = sockets[0];
    socket.emit(progress(1, 0.5));
    socket.emit({
      type: 'task_success',
      taskId: 'task-1',
      nodeId: 'sh1',
      seq: 5,
      result: { outputPath: 'x.png', takeId: 't1' }
    });
    socket.emit(progress(4, 0.8));
    await settle();

    const task = model.tasks.get('task-1')!;
    expect(task.status).toBe('completed');
    expect(task.progress).toBe(1);
    expect(task.seq).toBe(5);
    expect(notices.some(n => n.type === 'success')).toBe(true);
  });

  it("says nothing about a file's thumbnail being made", async () => {
    const { model, sockets, notices } = ctx;
    const socket = sockets[0];
    const path = '01_Assets/Characters/mara.png';
    socket.emit({ ...progress(1, 0.5), taskId: 'thumb', nodeId: path });
    socket.emit({
      type: 'task_success',
      taskId: 'thumb',
      nodeId: path,
      seq: 2,
      result: { outputPath: '05_Cache/thumbnails/mara.png' }
    });
    socket.emit({
      type: 'task_failed',
      taskId: 'thumb-2',
      nodeId: '01_Assets/Music/theme.xyz',
      seq: 1,
      error: 'unknown format',
      cancelled: false
    });
    await settle();
    expect(model.tasks.get('thumb')?.status).toBe('completed');
    expect(notices).toEqual([]);
  });

  it('records a failure, offers a retry, and tells a cancel apart', async () => {
    const { model, sockets, notices, api } = ctx;
    const socket = sockets[0];
    socket.emit(progress(1, 0.5));
    socket.emit({
      type: 'task_failed',
      taskId: 'task-1',
      nodeId: 'sh1',
      seq: 2,
      error: 'CUDA out of memory',
      cancelled: false
    });
    expect(model.tasks.get('task-1')).toMatchObject({
      status: 'error',
      error: 'CUDA out of memory'
    });
    const failure = notices.find(n => n.type === 'error')!;
    expect(failure.message).toContain('Shot 1');
    expect(failure.message).toContain('CUDA out of memory');

    failure.actions![0].callback();
    await settle();
    expect(api.submitTask).toHaveBeenCalledWith(
      expect.objectContaining({ nodeId: 'sh1', pipeline: 'still' })
    );

    socket.emit({
      type: 'task_failed',
      taskId: 'task-3',
      nodeId: 'sh2',
      seq: 1,
      error: 'cancelled',
      cancelled: true
    });
    expect(model.tasks.get('task-3')?.status).toBe('cancelled');
  });

  it('keeps live events newer than a snapshot read later', () => {
    const { model, sockets } = ctx;
    sockets[0].emit(progress(5, 0.5));
    model.tasks.applySnapshot([
      taskRecord({ seq: 3, progress: 0.3, takeId: 't7' }),
      taskRecord({ taskId: 'task-9', seq: 1 })
    ]);
    expect(model.tasks.get('task-1')?.progress).toBe(0.5);
    // what no event carries is still taken from the older record: the take it makes
    expect(model.tasks.get('task-1')?.takeId).toBe('t7');
    expect(model.tasks.get('task-9')).toBeDefined();

    model.tasks.applySnapshot([taskRecord({ seq: 6, progress: 0.6 })]);
    expect(model.tasks.get('task-1')?.progress).toBe(0.6);
  });

  it('re-reads the snapshot after a reconnect and then applies only newer deltas', async () => {
    const { model, sockets, api } = ctx;
    const socket = sockets[0];
    socket.hello(1, false);
    socket.emit(progress(1, 0.1));

    // While disconnected the task moved on to seq 4 on the server.
    socket.setState('closed');
    api.state.tasks = [
      taskRecord({ seq: 4, progress: 0.4, step: 'from snapshot' })
    ];
    api.state.project = sampleProject(2);
    api.getProject.mockClear();
    socket.hello(2, true);
    await settle();

    expect(api.getProject).toHaveBeenCalledTimes(1);
    expect(model.projects.current?.version).toBe(2);
    expect(model.tasks.get('task-1')?.step).toBe('from snapshot');

    // The server replays an event the snapshot already covers, then a new one.
    socket.emit(progress(3, 0.3, 'replayed'));
    socket.emit(progress(5, 0.5, 'new'));
    expect(model.tasks.get('task-1')?.step).toBe('new');
  });

  it('on a first hello with the same version, re-reads tasks but not the manifest', async () => {
    const { sockets, api } = ctx;
    api.getProject.mockClear();
    api.listTasks.mockClear();
    sockets[0].hello(1, false);
    await settle();
    expect(api.listTasks).toHaveBeenCalledTimes(1);
    expect(api.getProject).not.toHaveBeenCalled();
  });

  it('re-reads the manifest only for a newer project version', async () => {
    const { sockets, api } = ctx;
    api.getProject.mockClear();
    sockets[0].emit({
      type: 'project_update',
      projectId: 'film',
      changes: {},
      version: 1
    });
    await settle();
    expect(api.getProject).not.toHaveBeenCalled();
    sockets[0].emit({
      type: 'project_update',
      projectId: 'film',
      changes: {},
      version: 2
    });
    await settle();
    expect(api.getProject).toHaveBeenCalledTimes(1);
  });

  it('adds a pending task as soon as a generation is accepted', async () => {
    const { model, api } = ctx;
    const taskId = await model.tasks.generate('sh2', 'still', { steps: 4 });
    expect(taskId).toBe('task-new');
    expect(api.submitTask).toHaveBeenCalledWith({
      projectId: 'film',
      nodeId: 'sh2',
      pipeline: 'still',
      parameters: { steps: 4 }
    });
    expect(model.tasks.get('task-new')).toMatchObject({
      status: 'pending',
      seq: 0
    });
  });

  it('adds every task of several takes asked at once, and says so', async () => {
    const { model, api, notices } = ctx;
    api.submitTask.mockResolvedValueOnce({
      taskId: 'take-a',
      taskIds: ['take-a', 'take-b', 'take-c']
    });
    const taskId = await model.tasks.generate('sh2', 'still', { seed: 5 }, 3);
    expect(taskId).toBe('take-a');
    expect(api.submitTask).toHaveBeenCalledWith({
      projectId: 'film',
      nodeId: 'sh2',
      pipeline: 'still',
      parameters: { seed: 5 },
      count: 3
    });
    for (const id of ['take-a', 'take-b', 'take-c']) {
      expect(model.tasks.get(id)).toMatchObject({
        status: 'pending',
        nodeId: 'sh2'
      });
    }
    expect(notices.some(n => n.message.startsWith('3 takes of'))).toBe(true);
  });

  it('ends the "Exporting…" notice of an export with how it ended, in its place', async () => {
    const { sockets, notices, api } = ctx;
    const socket = sockets[0];
    const announce = (taskId: string) =>
      ctx.model.notices.notify({
        type: 'in-progress',
        message: 'Exporting Animatic (MP4) of Dawn…',
        key: taskId
      });
    announce('export-1');
    socket.emit(exported('export-1'));
    announce('export-2');
    await settle();
    const reads = api.getProject.mock.calls.length;
    socket.emit({
      type: 'task_failed',
      taskId: 'export-2',
      nodeId: 'sc1',
      seq: 2,
      error: 'ffmpeg is missing',
      cancelled: false
    });
    await settle();
    expect(notices.map(n => [n.key, n.type])).toEqual([
      ['export-1', 'in-progress'],
      ['export-1', 'success'],
      ['export-2', 'in-progress'],
      ['export-2', 'error']
    ]);
    expect(notices[1].message).toBe(
      'Animatic of Dawn is ready: 06_Exports/animatic-dawn.mp4'
    );
    expect(notices[3].message).toBe('Export failed: ffmpeg is missing');
    // an export changes no take: its failure re-reads no manifest
    expect(api.getProject.mock.calls.length).toBe(reads);
  });

  it('keeps "… is ready" of an export that ended before its "Exporting…" was announced', async () => {
    const { sockets, notices } = ctx;
    sockets[0].emit({
      type: 'task_success',
      taskId: 'export-quick',
      nodeId: 'sc1',
      seq: 2,
      result: {
        outputPath: '06_Exports/boards-dawn.pdf',
        export: {
          kind: 'boards',
          scope: 'sc1',
          scopeKind: 'scene',
          scopeName: 'Dawn',
          path: '06_Exports/boards-dawn.pdf',
          created: '2026-11-27T03:00:00Z',
          size: 1000,
          url: '/files/boards-dawn.pdf'
        }
      }
    });
    await settle();
    // the REST answer comes after the task's own event: its announcement is dropped
    ctx.model.notices.notify({
      type: 'in-progress',
      message: 'Exporting Storyboard of Dawn…',
      key: 'export-quick'
    });
    expect(notices.map(n => [n.key, n.type])).toEqual([
      ['export-quick', 'success']
    ]);
  });

  it('tells the end of a quick task whose record, read on its first event, already had it', async () => {
    const { sockets, notices, api, model } = ctx;
    // the export ended before the record its first progress event asks for was read
    api.getTaskStatus.mockResolvedValueOnce(exportedRecord('export-fast'));
    sockets[0].emit(cutting('export-fast'));
    await settle();
    expect(model.tasks.get('export-fast')?.status).toBe('completed');
    const success = exported('export-fast');
    sockets[0].emit(success);
    // told once: a replay of the same event is not told again
    sockets[0].emit(success);
    await settle();
    expect(notices.map(n => [n.key, n.type, n.message])).toEqual([
      [
        'export-fast',
        'success',
        'Animatic of Dawn is ready: 06_Exports/animatic-dawn.mp4'
      ]
    ]);
  });

  it('tells "… is ready" of an announced export whose ended record came before its events', async () => {
    const { sockets, notices, model } = ctx;
    const done = exportedRecord('export-raced');
    const success = exported('export-raced');
    // announced, then a snapshot (a resync's list of tasks) read as it ended, then its events
    model.notices.notify({
      type: 'in-progress',
      message: 'Exporting Animatic (MP4) of Dawn…',
      key: 'export-raced'
    });
    model.tasks.applySnapshot([done]);
    sockets[0].emit(cutting('export-raced'));
    sockets[0].emit(success);
    await settle();
    expect(notices.map(n => [n.key, n.type, n.message])).toEqual([
      ['export-raced', 'in-progress', 'Exporting Animatic (MP4) of Dawn…'],
      [
        'export-raced',
        'success',
        'Animatic of Dawn is ready: 06_Exports/animatic-dawn.mp4'
      ]
    ]);

    /** Its ended record read, then it is announced: told as it is announced, once. */
    const readThenAnnounced = async (taskId: string) => {
      notices.length = 0;
      model.tasks.applySnapshot([{ ...done, taskId }]);
      expect(notices).toEqual([]);
      model.notices.notify({
        type: 'in-progress',
        message: 'Exporting…',
        key: taskId
      });
      model.tasks.tellIfEnded(taskId);
      sockets[0].emit({ ...success, taskId });
      await settle();
      expect(notices.map(n => [n.key, n.type])).toEqual([
        [taskId, 'in-progress'],
        [taskId, 'success']
      ]);
    };
    // the snapshot before the announcement (the submit's answer last)
    await readThenAnnounced('export-late');
    // known as running first: its event (which a reconnect may lose) is not waited for, nor
    // told again
    sockets[0].emit(cutting('export-known'));
    await settle();
    await readThenAnnounced('export-known');

    // a failure read so is told as a failure
    notices.length = 0;
    model.notices.notify({
      type: 'in-progress',
      message: 'Exporting…',
      key: 'export-bad'
    });
    model.tasks.applySnapshot([
      taskRecord({
        taskId: 'export-bad',
        nodeId: 'sc1',
        pipeline: 'animatic',
        status: 'error',
        seq: 2,
        error: 'ffmpeg is missing'
      })
    ]);
    expect(notices.map(n => [n.type, n.message])).toEqual([
      ['in-progress', 'Exporting…'],
      ['error', 'Export failed: ffmpeg is missing']
    ]);
  });

  it('does not tell the end of a task that had ended before the page read it', async () => {
    const { sockets, notices, model } = ctx;
    model.tasks.applySnapshot([
      taskRecord({ taskId: 'old', status: 'completed', progress: 1, seq: 4 })
    ]);
    sockets[0].emit({
      type: 'task_success',
      taskId: 'old',
      nodeId: 'sh1',
      seq: 4,
      result: { outputPath: 'x.png', takeId: 't1' }
    });
    await settle();
    expect(notices).toEqual([]);
  });

  it('says "Export failed" of an export started elsewhere (a notebook), with no Retry', async () => {
    const { sockets, notices, api, model } = ctx;
    api.listPipelines.mockResolvedValueOnce({
      pipelines: [
        {
          id: 'animatic',
          name: 'Animatic',
          version: '1',
          media: 'video',
          description: 'Cuts a scene',
          produces: 'export',
          parameters: {},
          tiers: {}
        }
      ]
    });
    await model.tasks.loadPipelines();
    sockets[0].emit(cutting('nb-export'));
    sockets[0].emit({
      type: 'task_failed',
      taskId: 'nb-export',
      nodeId: 'sc1',
      seq: 2,
      error: 'ffmpeg is missing',
      cancelled: false
    });
    await settle();
    const told = notices.filter(n => n.type === 'error');
    expect(told.map(n => n.message)).toEqual([
      'Export failed: ffmpeg is missing'
    ]);
    expect(told[0].actions ?? []).toEqual([]);
  });
});

describe('StudioModel: parts signal only their own changes', () => {
  it('a task event reaches task listeners, not the tree, library or uploads', async () => {
    const { model, sockets } = setup();
    await model.projects.open('film');
    const heard: string[] = [];
    model.tasks.changed.connect(() => heard.push('tasks'));
    model.projects.currentChanged.connect(() => heard.push('project'));
    model.assets.changed.connect(() => heard.push('assets'));
    model.uploads.changed.connect(() => heard.push('uploads'));
    model.selection.changed.connect(() => heard.push('selection'));
    sockets[0].emit(progress(1, 0.2));
    expect(heard).toEqual(['tasks']);
  });
});

describe('StudioModel: selection', () => {
  it('emits once per change and tells other clients about node selections', async () => {
    const { model, sockets } = setup();
    await model.projects.open('film');
    const seen: (string | null)[] = [];
    model.selection.changed.connect((_, selection) =>
      seen.push(selection?.id ?? null)
    );

    model.selection.select({ kind: 'shot', id: 'sh1' });
    model.selection.select({ kind: 'shot', id: 'sh1' });
    model.selection.select({
      kind: 'asset',
      id: '01_Assets/Characters/hero.png'
    });

    expect(seen).toEqual(['sh1', '01_Assets/Characters/hero.png']);
    expect(sockets[0].sent).toEqual([
      { type: 'selection_change', nodeId: 'sh1', selection: ['sh1'] }
    ]);
  });

  it('falls back to the project when the selected node disappears', async () => {
    const { model, api, sockets } = setup();
    await model.projects.open('film');
    model.selection.select({ kind: 'shot', id: 'sh2' });

    const without = sampleProject(2);
    without.chapters[0].scenes[0].shots.pop();
    api.state.project = without;
    sockets[0].emit({
      type: 'project_update',
      projectId: 'film',
      changes: {},
      version: 2
    });
    await settle();

    expect(model.selection.current).toEqual({ kind: 'project', id: 'film' });
  });

  it('selects the parent after deleting the selected node', async () => {
    const { model, api } = setup();
    await model.projects.open('film');
    model.selection.select({ kind: 'shot', id: 'sh2' });
    expect(await model.projects.deleteNode('sh2')).toBe('tr_node');
    expect(api.deleteNode).toHaveBeenCalledWith('film', 'sh2');
    expect(model.selection.current).toEqual({ kind: 'scene', id: 'sc1' });
  });
});

describe('StudioModel: live events interrupted', () => {
  it('says so, then re-reads the snapshot when events flow again', async () => {
    const { model, api, notices } = setup();
    await model.projects.open('film');
    const reads = () => [
      api.getProject.mock.calls.length,
      api.listTasks.mock.calls.length,
      api.listAssets.mock.calls.length
    ];
    const before = reads();

    model.applyEvent({
      type: 'events_unavailable',
      message:
        'Live updates are interrupted (Redis does not answer); retrying.',
      since: 0
    });
    expect(notices.at(-1)).toMatchObject({
      type: 'warning',
      message: expect.stringContaining('interrupted')
    });
    model.applyEvent({
      type: 'project_update',
      projectId: 'film',
      changes: { resync: true },
      version: null
    });
    await settle();
    expect(reads().map((n, i) => n - before[i])).toEqual([1, 1, 1]);
    expect(notices.at(-1)).toMatchObject({
      type: 'info',
      message: 'Live updates are back.'
    });
  });
});

describe('StudioModel: uploads', () => {
  const file = (name: string, size: number) =>
    new File([new Uint8Array(size)], name, { type: 'image/png' });

  it('tracks each file from queued to done and adds the assets', async () => {
    const { model } = setup();
    await model.health.refresh();
    await model.projects.open('film');
    const history: IUploadState[][] = [];
    model.uploads.changed.connect((_, uploads) => history.push([...uploads]));

    await model.uploads.add('characters', [
      file('hero.png', 100),
      file('villain.png', 200)
    ]);

    const last = history[history.length - 1];
    expect(last.map(u => [u.name, u.status, u.loaded])).toEqual([
      ['hero.png', 'done', 100],
      ['villain.png', 'done', 200]
    ]);
    // Progress was reported part-way.
    expect(
      history.some(s =>
        s.some(u => u.status === 'uploading' && u.loaded === 50)
      )
    ).toBe(true);
    expect(model.assets.list!.categories.characters.map(a => a.name)).toEqual([
      'hero.png',
      'villain.png'
    ]);
  });

  it('refuses files over the size limit and reports failed uploads', async () => {
    const { model, api, notices } = setup();
    await model.health.refresh(); // maxUploadBytes: 1000
    await model.projects.open('film');
    api.uploadFile.mockRejectedValueOnce(
      new StudioAPIError('unsupported_media', 'not an image', 415)
    );

    await model.uploads.add('styles', [
      file('a.png', 10),
      file('huge.png', 5000)
    ]);

    const byName = Object.fromEntries(model.uploads.all.map(u => [u.name, u]));
    expect(byName['a.png'].status).toBe('error');
    expect(byName['a.png'].error).toBe('not an image');
    expect(byName['huge.png'].status).toBe('error');
    expect(api.uploadFile).toHaveBeenCalledTimes(1);
    expect(notices.filter(n => n.type === 'error')).toHaveLength(2);

    model.uploads.clearFinished();
    expect(model.uploads.all).toEqual([]);
  });

  it('keeps the asset list current from asset events', async () => {
    const { model, sockets } = setup();
    await model.projects.open('film');
    const asset = {
      path: '01_Assets/Music/theme.mp3',
      name: 'theme.mp3',
      category: 'music' as const,
      kind: 'audio' as const,
      size: 1,
      modified: '2026-01-01T00:00:00Z',
      url: 'gms/api/projects/film/files/01_Assets/Music/theme.mp3'
    };
    sockets[0].emit({ type: 'asset_added', category: 'Music', asset });
    expect(model.assets.list!.categories.music).toHaveLength(1);
    expect(model.assets.byPath(asset.path)?.name).toBe('theme.mp3');
    sockets[0].emit({
      type: 'asset_removed',
      category: 'Music',
      path: asset.path
    });
    expect(model.assets.list!.categories.music).toHaveLength(0);
  });
});

describe('StudioModel: saving', () => {
  it('sends If-Match and leaves a conflict to the caller without a toast', async () => {
    const { model, api, notices } = setup();
    await model.projects.open('film');
    api.patchProject.mockRejectedValueOnce(conflict());

    const error = await model.projects.save({ name: 'New' }, 1).catch(e => e);

    expect(api.patchProject).toHaveBeenCalledWith('film', { name: 'New' }, 1);
    expect(error).toBeInstanceOf(StudioAPIError);
    expect((error as StudioAPIError).isConflict).toBe(true);
    expect(notices).toEqual([]);
  });

  it("reports other errors with the server's message", async () => {
    const { model, api, notices } = setup();
    await model.projects.open('film');
    api.patchNode.mockRejectedValueOnce(
      new StudioAPIError('invalid', 'duration must be positive', 422)
    );
    await model.projects
      .patchNode('sh1', { duration: -1 }, 1)
      .catch(() => undefined);
    expect(notices[0].message).toContain('duration must be positive');
  });

  it('commits after changes when autoCommit is on (debounced)', async () => {
    const { model, api, clock } = setup();
    await model.health.refresh();
    await model.projects.open('film');
    model.settings = { ...model.settings, autoCommit: true };
    await model.projects.renameNode('sh1', 'Opening');
    await model.projects.renameNode('sh2', 'Closing');
    expect(api.commit).not.toHaveBeenCalled();
    clock.advance(1000);
    expect(api.commit).toHaveBeenCalledTimes(1);
    expect(api.commit.mock.calls[0][1]).toMatch(/^studio: update .*; update /);
  });
});

describe('StudioModel: health', () => {
  it('reports an unreachable server and recovers by itself', async () => {
    const { model, api, clock } = setup();
    api.getWorkspaceConfig.mockRejectedValueOnce(
      new StudioAPIError('network_error', 'offline')
    );
    await model.health.refresh();
    expect(model.health.state.reachable).toBe(false);
    expect(clock.pendingDelays()).toEqual([5000]);

    api.listProjects.mockClear();
    clock.advance(5000);
    await settle();
    expect(model.health.state.reachable).toBe(true);
    expect(api.listProjects).toHaveBeenCalled();
    expect(clock.pendingDelays()).toEqual([30_000]);
  });

  it('lists tools that are down, Redis among them', async () => {
    const { model, api } = setup();
    api.getWorkspaceConfig.mockResolvedValueOnce(
      workspaceConfig({
        redis: { ok: false, message: 'connection refused' },
        git: { ok: true }
      })
    );
    const changes = vi.fn();
    model.health.changed.connect(changes);
    await model.health.refresh();
    expect(model.health.state).toEqual({
      reachable: true,
      problems: [{ tool: 'redis', message: 'connection refused' }]
    });
    expect(changes).toHaveBeenCalledTimes(1);
  });

  it('counts ComfyUI as down only for a studio pointed at one, and the banner says when it matters', async () => {
    const { model, api } = setup();
    const comfyDown = {
      redis: { ok: true },
      comfyui: {
        ok: false,
        message:
          'No ComfyUI answers at http://127.0.0.1:8188 (connection refused); the setting comfyui_url (GMS_COMFYUI_URL) says where it runs.'
      }
    };
    api.getWorkspaceConfig.mockResolvedValue(workspaceConfig(comfyDown));
    await model.projects.open('film');
    await model.health.refresh();
    // ComfyUI's default address, nobody uses it: no problem, no word, no quick re-polling
    expect(model.health.state.problems).toEqual([]);
    expect(comfyuiTrouble(model)).toBeNull();

    // a ComfyUI take waits for it: now the banner speaks
    model.tasks.applyProgress({
      ...progress(1, 0.1, 'Connecting to ComfyUI at http://127.0.0.1:8188'),
      pipeline: 'comfyui'
    });
    expect(comfyuiTrouble(model)).toContain(
      'No ComfyUI answers at http://127.0.0.1:8188'
    );

    // a studio pointed at a ComfyUI hears about it any time
    api.getWorkspaceConfig.mockResolvedValue({
      ...workspaceConfig(comfyDown),
      comfyuiUrl: 'http://gpu-box:8188',
      comfyuiConfigured: true
    });
    await model.health.refresh();
    expect(model.health.state.problems.map(p => p.tool)).toEqual(['comfyui']);
  });
});

describe('StudioModel: a long task history comes in pages', () => {
  it('reads the newest page, then older pages on request, until none is left', async () => {
    const ctx = setup();
    const { api, model } = ctx;
    const page = (ids: string[], nextCursor: string | null) => ({
      tasks: ids.map(taskId =>
        taskRecord({ taskId, status: 'completed', seq: 3, progress: 1 })
      ),
      more: nextCursor !== null,
      nextCursor
    });
    api.listTasks.mockImplementation(
      async (_project: string, cursor?: string | null) =>
        cursor === 'c1'
          ? page(['t3', 't2'], 'c2')
          : cursor === 'c2'
            ? page(['t1'], null)
            : page(['t5', 't4'], 'c1')
    );
    await model.projects.open('film');
    await settle();
    expect([...model.tasks.all.keys()].sort()).toEqual(['t4', 't5']);
    expect(model.tasks.hasOlder).toBe(true);

    await model.tasks.loadOlder();
    expect(api.listTasks).toHaveBeenLastCalledWith('film', 'c1');
    expect(model.tasks.hasOlder).toBe(true);
    await model.tasks.loadOlder();
    expect([...model.tasks.all.keys()].sort()).toEqual([
      't1',
      't2',
      't3',
      't4',
      't5'
    ]);
    expect(model.tasks.hasOlder).toBe(false);
    api.listTasks.mockClear();
    await model.tasks.loadOlder(); // nothing older: no request
    expect(api.listTasks).not.toHaveBeenCalled();
  });
});

describe('toastLifetime', () => {
  it('keeps a notice with actions long enough to act on, a plain one briefly', () => {
    const play = [{ label: 'Play', callback: () => undefined }];
    expect(toastLifetime({ type: 'in-progress', message: 'Exporting…' })).toBe(
      false
    );
    expect(toastLifetime({ type: 'success', message: 'Saved.' })).toBe(5_000);
    expect(toastLifetime({ type: 'error', message: 'No.' })).toBe(10_000);
    expect(
      toastLifetime({
        type: 'success',
        message: 'Animatic is ready',
        actions: play
      })
    ).toBe(20_000);
    expect(
      toastLifetime({ type: 'error', message: 'Failed', actions: play })
    ).toBe(20_000);
    expect(toastLifetime({ type: 'info', message: 'x', actions: [] })).toBe(
      5_000
    );
  });
});
