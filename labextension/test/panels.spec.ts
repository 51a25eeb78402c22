/**
 * Panel logic: the tree rows and drag targets, the inspector's validation and patches, the task
 * ordering of the Progress panel, and the Project Browser rendered in jsdom.
 */
import { Widget } from '@lumino/widgets';
import { CommandRegistry } from '@lumino/commands';
import { afterEach, describe, expect, it, vi } from 'vitest';

import { StudioModel } from '../src/model';
import { groupByFolder } from '../src/panels/assetBrowser';
import {
  draftOf,
  FORM_FIELDS,
  patchOf,
  validateField,
  validateProperties
} from '../src/panels/inspector';
import { formatDuration, orderTasks } from '../src/panels/progress';
import { buildRows, dropTarget, ITreeRow } from '../src/panels/projectBrowser';
import { fakeAPI, sampleProject, taskRecord } from './fakes';

describe('Project tree rows', () => {
  const project = sampleProject();

  it('shows the project, then only the children of expanded nodes', () => {
    const rows = buildRows(project, new Set(['film', 'ch1']), new Map());
    expect(rows.map(r => [r.kind, r.id, r.level])).toEqual([
      ['project', 'film', 1],
      ['chapter', 'ch1', 2],
      ['scene', 'sc1', 3]
    ]);
    expect(rows[2]).toMatchObject({ hasChildren: true, expanded: false });
  });

  it("shows takes with their live status and the shot's chosen take", () => {
    const tasks = new Map([
      ['task-2', taskRecord({ taskId: 'task-2', progress: 0.42 })],
      ['task-5', taskRecord({ taskId: 'task-5', nodeId: 'sh2', progress: 0.1 })]
    ]);
    const rows = buildRows(
      project,
      new Set(['film', 'ch1', 'sc1', 'sh1']),
      tasks
    );
    const byId = Object.fromEntries(rows.map(r => [r.id, r]));
    expect(byId.t1).toMatchObject({
      name: 'Take 1',
      status: 'completed',
      isSelectedTake: true
    });
    expect(byId.t2).toMatchObject({
      name: 'Take 2',
      status: 'generating',
      progress: 0.42
    });
    expect(byId.sh2).toMatchObject({ status: 'running', progress: 0.1 });
  });

  const row = (over: Partial<ITreeRow>): ITreeRow => ({
    id: 'x',
    kind: 'shot',
    name: 'x',
    level: 4,
    parentId: 'sc1',
    index: 0,
    hasChildren: false,
    expanded: false,
    ...over
  });
  const count = (parentId: string) => (parentId === 'sc1' ? 3 : 1);

  it('moves a shot among its siblings, counting its own removal', () => {
    const dragged = row({ id: 'a', index: 0 });
    expect(
      dropTarget(dragged, row({ id: 'c', index: 2 }), 'after', count)
    ).toEqual({
      parentId: 'sc1',
      index: 2
    });
    expect(
      dropTarget(dragged, row({ id: 'c', index: 2 }), 'before', count)
    ).toEqual({
      parentId: 'sc1',
      index: 1
    });
    // Dropping right after itself changes nothing.
    expect(
      dropTarget(
        row({ id: 'b', index: 1 }),
        row({ id: 'a', index: 0 }),
        'after',
        count
      )
    ).toBeNull();
  });

  it('moves a shot into another scene, or refuses a drop on the wrong kind', () => {
    const dragged = row({ id: 'a', index: 0 });
    const scene = row({ id: 'sc2', kind: 'scene', level: 3, parentId: 'ch1' });
    expect(dropTarget(dragged, scene, 'into', count)).toEqual({
      parentId: 'sc2',
      index: 1
    });
    const chapter = row({
      id: 'ch1',
      kind: 'chapter',
      level: 2,
      parentId: null
    });
    expect(dropTarget(dragged, chapter, 'into', count)).toBeNull();
    expect(
      dropTarget(row({ kind: 'take' }), dragged, 'before', count)
    ).toBeNull();
  });
});

describe('Inspector forms', () => {
  it('validates names, numbers and bounds', () => {
    const [name, , fps, width] = FORM_FIELDS.project;
    expect(validateField(name, '  ')).toMatch(/required/);
    expect(validateField(fps, '0')).toMatch(/more than 0/);
    expect(validateField(fps, '241')).toMatch(/at most 240/);
    expect(validateField(fps, '23.976')).toBeNull();
    expect(validateField(width, '1280.5')).toMatch(/whole/);
    expect(validateField(width, '8')).toMatch(/at least 16/);
    expect(validateField(width, 'abc')).toMatch(/number/);
    expect(
      validateProperties([
        { key: 'a', value: '1' },
        { key: 'a', value: '2' }
      ])
    ).toMatch(/twice/);
    expect(validateProperties([{ key: ' ', value: '1' }])).toMatch(/name/);
  });

  it('sends only what changed, with settings as a whole', () => {
    const project = sampleProject();
    const selection = { kind: 'project' as const, id: 'film' };
    const base = draftOf(project, selection)!;
    const draft = { ...base, fields: { ...base.fields, fps: '25' } };
    expect(patchOf('project', base, base)).toBeNull();
    expect(patchOf('project', base, draft)).toEqual({
      settings: { fps: 25, resolution: { width: 1280, height: 720 } }
    });
  });

  it("turns a shot's property rows into typed values", () => {
    const project = sampleProject();
    const base = draftOf(project, { kind: 'shot', id: 'sh1' })!;
    expect(base.properties).toEqual([{ key: 'lens', value: '35mm' }]);
    const draft = {
      fields: { ...base.fields, duration: '4.5' },
      properties: [
        ...base.properties,
        { key: 'take', value: '3' },
        { key: 'night', value: 'true' }
      ]
    };
    expect(patchOf('shot', base, draft)).toEqual({
      duration: 4.5,
      properties: { lens: '35mm', take: 3, night: true }
    });
  });
});

describe('Progress panel', () => {
  it('lists running tasks first, then the most recent finished ones', () => {
    const { active, recent } = orderTasks(
      [
        taskRecord({
          taskId: 'old',
          status: 'completed',
          finished: '2026-01-01T00:00:01Z'
        }),
        taskRecord({ taskId: 'run2', created: '2026-01-01T00:00:05Z' }),
        taskRecord({
          taskId: 'new',
          status: 'error',
          finished: '2026-01-01T00:00:09Z'
        }),
        taskRecord({
          taskId: 'run1',
          status: 'pending',
          created: '2026-01-01T00:00:02Z'
        })
      ],
      5
    );
    expect(active.map(t => t.taskId)).toEqual(['run1', 'run2']);
    expect(recent.map(t => t.taskId)).toEqual(['new', 'old']);
    // a shorter list says how many finished ones it left out ("Show older" shows them)
    const shorter = orderTasks(
      [
        taskRecord({
          taskId: 'a',
          status: 'completed',
          finished: '2026-01-01T00:00:01Z'
        }),
        taskRecord({
          taskId: 'b',
          status: 'completed',
          finished: '2026-01-01T00:00:02Z'
        })
      ],
      1
    );
    expect(shorter.recent.map(t => t.taskId)).toEqual(['b']);
    expect(shorter.finished).toBe(2);
    expect(formatDuration(300)).toBe('<1s');
    expect(formatDuration(4_200)).toBe('4s');
    expect(formatDuration(65_000)).toBe('1:05');
  });

  it("leaves out the server's thumbnail tasks, which are no generations", () => {
    const { active, recent } = orderTasks([
      taskRecord({ taskId: 'take' }),
      taskRecord({
        taskId: 'preview',
        nodeId: '01_Assets/Characters/mara.png',
        pipeline: 'thumbnail'
      }),
      taskRecord({
        taskId: 'preview-done',
        nodeId: '01_Assets/Characters/tom.png',
        status: 'completed'
      })
    ]);
    expect(active.map(t => t.taskId)).toEqual(['take']);
    expect(recent).toEqual([]);
  });

  it('groups assets by folder, the root first', () => {
    const asset = (name: string, folder: string) => ({
      path: `${folder}/${name}`,
      name,
      category: 'characters' as const,
      kind: 'image' as const,
      size: 1,
      modified: '',
      url: '',
      folder
    });
    const groups = groupByFolder([
      asset('b', 'heroes'),
      asset('a', ''),
      asset('c', 'extras')
    ]);
    expect(groups.map(([folder]) => folder)).toEqual(['', 'extras', 'heroes']);
  });
});

describe('Project Browser (rendered)', () => {
  let widget: Widget | null = null;

  afterEach(() => {
    widget?.dispose();
    widget = null;
  });

  const waitFor = async (check: () => boolean): Promise<void> => {
    for (let i = 0; i < 50 && !check(); i++) {
      await new Promise(resolve => setTimeout(resolve, 10));
    }
  };

  it('renders the tree with test ids and follows the keyboard', async () => {
    const { ProjectBrowser } = await import('../src/panels/projectBrowser');
    const model = new StudioModel({ api: fakeAPI() });
    await model.projects.load();
    await model.projects.open('film');
    const commands = new CommandRegistry();
    const executed: string[] = [];
    for (const id of [
      'gms:open-studio',
      'gms:delete',
      'gms:new-project',
      'gms:refresh'
    ]) {
      commands.addCommand(id, { execute: () => void executed.push(id) });
    }
    widget = new ProjectBrowser(model, commands);
    Widget.attach(widget, document.body);
    const root = widget.node;
    await waitFor(
      () => root.querySelector('[data-testid="gms-tree"]') !== null
    );

    expect(root.dataset.testid).toBe('gms-project-browser');
    const picker = root.querySelector<HTMLSelectElement>(
      '[data-testid="gms-project-picker"]'
    )!;
    expect(picker.value).toBe('film');
    const ids = () =>
      [
        ...root.querySelectorAll<HTMLElement>('[data-testid="gms-tree-item"]')
      ].map(item => `${item.dataset.kind}:${item.dataset.nodeId}`);
    await waitFor(() => ids().length === 3);
    expect(ids()).toEqual(['project:film', 'chapter:ch1', 'scene:sc1']);

    const tree = root.querySelector<HTMLElement>('[data-testid="gms-tree"]')!;
    // One key at a time, letting React re-render in between as it would for a person.
    const key = async (k: string) => {
      tree.dispatchEvent(
        new KeyboardEvent('keydown', { key: k, bubbles: true })
      );
      await new Promise(resolve => setTimeout(resolve, 20));
    };

    await key('ArrowDown');
    expect(model.selection.current).toEqual({ kind: 'chapter', id: 'ch1' });
    await key('ArrowDown');
    await key('ArrowRight'); // expand the scene
    await waitFor(() => ids().length === 5);
    expect(ids()).toContain('shot:sh2');
    await key('ArrowDown');
    expect(model.selection.current).toEqual({ kind: 'shot', id: 'sh1' });
    await key('ArrowLeft'); // back to the scene
    expect(model.selection.current?.id).toBe('sc1');
    await key('ArrowDown');
    await key('Enter');
    await key('Delete');
    expect(executed).toEqual(['gms:open-studio', 'gms:delete']);

    await key('F2');
    await waitFor(
      () => root.querySelector('[data-testid="gms-rename-input"]') !== null
    );
    expect(
      root.querySelector<HTMLInputElement>('[data-testid="gms-rename-input"]')!
        .value
    ).toBe('Shot 1');
  });
});

describe('Inspector (rendered)', () => {
  let widget: Widget | null = null;

  afterEach(() => {
    widget?.dispose();
    widget = null;
  });

  const until = async (check: () => boolean): Promise<void> => {
    for (let i = 0; i < 100 && !check(); i++) {
      await new Promise(resolve => setTimeout(resolve, 10));
    }
    expect(check()).toBe(true);
  };

  /** Type into a React-controlled input the way a browser does. */
  const type = (input: HTMLInputElement, value: string): void => {
    const setter = Object.getOwnPropertyDescriptor(
      HTMLInputElement.prototype,
      'value'
    )!.set!;
    setter.call(input, value);
    input.dispatchEvent(new Event('input', { bubbles: true }));
  };

  it('on a stale version offers Reload / Overwrite and overwrites only what the user changed', async () => {
    const { Inspector } = await import('../src/panels/inspector');
    const { conflict } = await import('./fakes');
    const api = fakeAPI();
    const model = new StudioModel({ api });
    await model.projects.open('film');
    widget = new Inspector(model, new CommandRegistry());
    Widget.attach(widget, document.body);
    const root = widget.node;
    const q = <T extends Element>(id: string) =>
      root.querySelector<T>(`[data-testid="${id}"]`);
    await until(() => q('gms-inspector-form') !== null);
    expect(root.dataset.testid).toBe('gms-inspector');

    // Someone else raises the quality (version 2) while this user edits the frame rate.
    type(q<HTMLInputElement>('gms-field-fps')!, '30');
    await until(() => !q<HTMLButtonElement>('gms-inspector-save')!.disabled);
    const theirs = sampleProject(2);
    theirs.quality = 'high';
    api.state.project = theirs;
    api.patchProject.mockRejectedValueOnce(conflict());

    q<HTMLButtonElement>('gms-inspector-save')!.click();
    await until(() => q('gms-conflict') !== null);
    expect(api.patchProject).toHaveBeenLastCalledWith(
      'film',
      { settings: { fps: 30, resolution: { width: 1280, height: 720 } } },
      1
    );

    q<HTMLButtonElement>('gms-conflict-overwrite')!.click();
    await until(() => api.patchProject.mock.calls.length === 2);
    // Against the latest version, and without undoing their quality change.
    expect(api.patchProject).toHaveBeenLastCalledWith(
      'film',
      { settings: { fps: 30, resolution: { width: 1280, height: 720 } } },
      2
    );
    await until(() => q('gms-conflict') === null);
  });

  it('refuses to save an invalid value', async () => {
    const { Inspector } = await import('../src/panels/inspector');
    const model = new StudioModel({ api: fakeAPI() });
    await model.projects.open('film');
    model.selection.select({ kind: 'shot', id: 'sh1' });
    widget = new Inspector(model, new CommandRegistry());
    Widget.attach(widget, document.body);
    const root = widget.node;
    await until(
      () => root.querySelector('[data-testid="gms-field-duration"]') !== null
    );
    type(
      root.querySelector<HTMLInputElement>(
        '[data-testid="gms-field-duration"]'
      )!,
      '-1'
    );
    await until(() => root.querySelector('.gms-Field-error') !== null);
    expect(root.querySelector('.gms-Field-error')!.textContent).toMatch(
      /more than 0/
    );
    expect(
      root.querySelector<HTMLButtonElement>(
        '[data-testid="gms-inspector-save"]'
      )!.disabled
    ).toBe(true);
  });
  it('exports the selected scene or the film from its Export section, not a shot', async () => {
    const { Inspector } = await import('../src/panels/inspector');
    const model = new StudioModel({ api: fakeAPI() });
    await model.projects.open('film');
    const commands = new CommandRegistry();
    const asked: unknown[] = [];
    commands.addCommand('gms:export', {
      execute: args => {
        asked.push(args);
      }
    });
    model.selection.select({ kind: 'scene', id: 'sc1' });
    widget = new Inspector(model, commands);
    Widget.attach(widget, document.body);
    const root = widget.node;
    const button = (kind: string) =>
      root.querySelector<HTMLButtonElement>(
        `[data-testid="gms-inspector-export-${kind}"]`
      );
    await until(() => button('edl') !== null);
    expect(
      [...root.querySelectorAll('.gms-ExportActions button')].map(
        b => b.textContent
      )
    ).toEqual([
      'Animatic (MP4)',
      'OpenTimelineIO Timeline',
      'CMX 3600 EDL',
      'Final Cut Pro 7 XML',
      'Storyboard Sheet (PDF + PNG)'
    ]);
    button('edl')!.click();
    await until(() => asked.length === 1);
    expect(asked[0]).toEqual({ kind: 'edl', nodeId: 'sc1' });

    model.selection.select({ kind: 'project', id: 'film' });
    await until(() => button('boards')?.title.includes('of Film') === true);
    button('boards')!.click();
    await until(() => asked.length === 2);
    expect(asked[1]).toEqual({ kind: 'boards', nodeId: 'film' });

    model.selection.select({ kind: 'shot', id: 'sh1' });
    await until(() => button('animatic') === null);
  });

  it("shows a selected export's facts and makes it again from its scene", async () => {
    const { Inspector } = await import('../src/panels/inspector');
    const api = fakeAPI();
    const made = {
      kind: 'boards' as const,
      scope: 'sc1',
      scopeKind: 'scene' as const,
      scopeName: 'Opening',
      path: '06_Exports/boards-opening.pdf',
      files: ['06_Exports/boards-opening.pdf', '06_Exports/boards-opening.png'],
      created: '2026-11-27T03:00:00Z',
      size: 2048,
      url: '/files/boards-opening.pdf',
      shots: 2,
      duration: 5,
      fps: 24,
      gaps: [{ shotId: 'sh2', name: 'Shot 2', duration: 2, reason: 'no take' }]
    };
    api.listExports = vi.fn(async () => ({ exports: [made] }));
    const model = new StudioModel({ api });
    await model.projects.open('film');
    await model.exports.refresh();
    const commands = new CommandRegistry();
    const asked: unknown[] = [];
    commands.addCommand('gms:export', {
      isEnabled: args => args.nodeId === 'sc1',
      execute: args => {
        asked.push(args);
      }
    });
    commands.addCommand('gms:open-export', {
      execute: args => {
        asked.push(args);
      }
    });
    model.selection.select({ kind: 'export', id: made.path });
    widget = new Inspector(model, commands);
    Widget.attach(widget, document.body);
    const root = widget.node;
    await until(
      () => root.querySelector('[data-testid="gms-export-details"]') !== null
    );
    expect(
      root.querySelector('[data-testid="gms-inspector-title"]')!.textContent
    ).toBe('Export');
    expect(root.querySelector('.gms-Subject-name')!.textContent).toBe(
      'Boards of Scene Opening'
    );
    expect(root.textContent).not.toContain('no longer exists');
    expect(
      root.querySelector('[data-testid="gms-export-gaps"]')!.textContent
    ).toBe('Shot 2 (2 s)');
    expect(
      [...root.querySelectorAll('[data-testid="gms-export-file"]')].map(
        a => a.textContent
      )
    ).toEqual(['boards-opening.pdf', 'boards-opening.png']);
    root
      .querySelector<HTMLButtonElement>(
        '[data-testid="gms-inspector-open-export"]'
      )!
      .click();
    const again = root.querySelector<HTMLButtonElement>(
      '[data-testid="gms-inspector-export-again"]'
    )!;
    expect(again.disabled).toBe(false);
    again.click();
    await until(() => asked.length === 2);
    expect(asked).toEqual([
      { path: made.path },
      { kind: 'boards', nodeId: 'sc1' }
    ]);

    // the same export once its scene is gone: nothing to make it from
    api.listExports = vi.fn(async () => ({
      exports: [{ ...made, scope: 'gone' }]
    }));
    await model.exports.refresh();
    await until(
      () =>
        root.querySelector<HTMLButtonElement>(
          '[data-testid="gms-inspector-export-again"]'
        )?.disabled === true
    );
  });
});

describe('Studio main view (rendered): a take in the making', () => {
  let widget: Widget | null = null;

  afterEach(() => {
    widget?.dispose();
    widget = null;
  });

  const until = async (check: () => boolean): Promise<void> => {
    for (let i = 0; i < 100 && !check(); i++) {
      await new Promise(resolve => setTimeout(resolve, 10));
    }
    expect(check()).toBe(true);
  };

  it("shows the pipeline's live preview in the take's tile, then the final image instead", async () => {
    const { StudioView } = await import('../src/panels/mainView');
    const { FakeSocket } = await import('./fakes');
    const api = fakeAPI();
    const sockets: InstanceType<typeof FakeSocket>[] = [];
    const model = new StudioModel({
      api,
      createSocket: () => {
        const socket = new FakeSocket();
        sockets.push(socket);
        return socket;
      }
    });
    await model.projects.open('film');
    model.selection.select({ kind: 'shot', id: 'sh1' });
    widget = new StudioView(model, new CommandRegistry());
    Widget.attach(widget, document.body);
    const root = widget.node;
    const tile = () =>
      root.querySelector<HTMLElement>(
        '[data-testid="gms-take-strip"] [data-take-id="t2"]'
      );
    await until(() => tile() !== null);
    // Take 2 is generating: no preview yet, just the bar.
    expect(tile()!.querySelector('[data-testid="gms-generating"]')).not.toBe(
      null
    );
    expect(tile()!.querySelector('[data-testid="gms-take-preview"]')).toBe(
      null
    );

    const step = (seq: number, preview: string | null) => ({
      type: 'task_progress' as const,
      taskId: 'task-2',
      nodeId: 'sh1',
      progress: seq / 10,
      step: `denoising ${seq}/8`,
      status: 'running' as const,
      seq,
      pipeline: 'diffusion',
      preview
    });
    const previewSrc = () =>
      tile()
        ?.querySelector<HTMLImageElement>('[data-testid="gms-take-preview"]')
        ?.getAttribute('src') ?? null;
    const first = '05_Cache/previews/task-2/1.jpg';
    sockets[0].emit(step(2, first));
    await until(() => previewSrc() !== null);
    expect(previewSrc()).toBe(
      `http://lab/gms/api/projects/film/files/${first}`
    );
    expect(tile()!.textContent).toContain('Generating 20%');
    // A step without a new picture keeps the latest one (the server repeats it).
    sockets[0].emit(step(3, first));
    const second = '05_Cache/previews/task-2/2.jpg';
    sockets[0].emit(step(4, second));
    await until(() => previewSrc()?.endsWith(second) === true);
    expect(model.tasks.get('task-2')?.preview).toBe(second);

    // The take is made: the manifest has its file, and the tile shows it, not a preview.
    const done = sampleProject(2);
    const take = done.chapters[0].scenes[0].shots[0].takes[1];
    Object.assign(take, {
      status: 'completed',
      file: '03_Renders/ch1/sc1/sh1/t2.png'
    });
    api.state.project = done;
    sockets[0].emit({
      type: 'task_success',
      taskId: 'task-2',
      nodeId: 'sh1',
      seq: 9,
      result: { outputPath: '03_Renders/ch1/sc1/sh1/t2.png', takeId: 't2' }
    });
    await until(
      () =>
        tile()?.querySelector('img')?.getAttribute('src') ===
        'http://lab/gms/api/projects/film/files/03_Renders/ch1/sc1/sh1/t2.png'
    );
    expect(tile()!.querySelector('[data-testid="gms-take-preview"]')).toBe(
      null
    );
    expect(tile()!.querySelector('[data-testid="gms-generating"]')).toBe(null);
    expect(model.tasks.get('task-2')?.preview).toBeNull();
  });
});

describe('Take pictures', () => {
  it('a strip or storyboard loads its pictures lazily; a full view at once', async () => {
    const React = await import('react');
    const { ReactWidget } = await import('@jupyterlab/ui-components');
    const { Media } = await import('../src/panels/media');
    const shown = async (compact: boolean): Promise<HTMLImageElement> => {
      const widget = ReactWidget.create(
        React.createElement(Media, {
          url: '/t.png',
          kind: 'image',
          label: 'Take 3',
          compact
        })
      );
      Widget.attach(widget, document.body);
      widget.update();
      for (let i = 0; i < 50 && !widget.node.querySelector('img'); i++) {
        await new Promise(resolve => setTimeout(resolve, 10));
      }
      const picture = widget.node.querySelector('img');
      expect(picture).not.toBeNull();
      widget.dispose();
      return picture as HTMLImageElement;
    };
    const small = await shown(true);
    expect(small.getAttribute('loading')).toBe('lazy');
    expect(small.alt).toBe('Take 3');
    const full = await shown(false);
    expect(full.hasAttribute('loading')).toBe(false);
    expect(full.hasAttribute('decoding')).toBe(false);
    expect(small.getAttribute('decoding')).toBe('async');
  });
});

describe('useSignals', () => {
  it('renders what changed between its first render and its connecting', async () => {
    const React = await import('react');
    const { ReactWidget } = await import('@jupyterlab/ui-components');
    const { Signal } = await import('@lumino/signaling');
    const { useSignals } = await import('../src/panels/hooks');
    const model = { value: 'before' };
    const changed = new Signal<typeof model, void>(model);
    // reads the model, and is connected in an effect, after the page shows its first render
    const Reader = (): React.ReactElement =>
      React.createElement(
        'span',
        null,
        useSignals([changed], () => model.value)
      );
    // changes the model in that gap: a layout effect runs before any effect (the studio
    // restoring the last selection while the Inspector mounted)
    const Changer = (): null => {
      React.useLayoutEffect(() => {
        model.value = 'after';
        changed.emit();
      }, []);
      return null;
    };
    const widget = ReactWidget.create(
      React.createElement(
        React.Fragment,
        null,
        React.createElement(Reader),
        React.createElement(Changer)
      )
    );
    Widget.attach(widget, document.body);
    widget.update();
    const text = () => widget.node.querySelector('span')?.textContent;
    for (let i = 0; i < 50 && text() !== 'after'; i++) {
      await new Promise(resolve => setTimeout(resolve, 10));
    }
    expect(text()).toBe('after');
    widget.dispose();
  });
});
