/**
 * What a filmmaker's day relies on, without a browser: the Generate dialog starting from the
 * shot (and remembering), a whole scene queued, Recent cleared for good, assets moved and
 * trashed, references added, the viewer's and the storyboard's arithmetic, and one word per
 * task state.
 */
import { describe, expect, it } from 'vitest';

import { GenerateBody, shotDefault } from '../src/dialogs';
import { displayPath, takeDisplayPath } from '../src/hierarchy';
import { MEMORY_KEY, StudioMemory, StudioModel } from '../src/model';
import { taskState } from '../src/panels/progress';
import { reorderIndex } from '../src/panels/storyboard';
import { clampZoom, neighbourTake, zoomAround } from '../src/panels/takeViewer';
import type { IPipeline } from '../src/types';
import { fakeAPI, sampleProject, settle, taskRecord } from './fakes';

/** A state store in memory, standing in for JupyterLab's IStateDB. */
function store() {
  const data = new Map<string, unknown>();
  return {
    data,
    fetch: async (key: string) => data.get(key),
    save: async (key: string, value: never) => {
      data.set(key, structuredClone(value));
    }
  };
}

function diffusion(): IPipeline {
  const text = {
    type: 'string',
    default: '',
    minimum: null,
    maximum: null,
    enum: null
  };
  return {
    id: 'diffusion',
    name: 'Diffusion',
    version: '1',
    media: 'image',
    description: 'A long description. '.repeat(20),
    produces: 'take',
    parameters: {
      prompt: { ...text },
      negative_prompt: { ...text },
      init_image: { ...text },
      seed: {
        type: 'integer',
        default: 0,
        minimum: 0,
        maximum: null,
        enum: null
      },
      steps: {
        type: 'integer',
        default: 20,
        minimum: 1,
        maximum: 100,
        enum: null
      }
    },
    tiers: {}
  } as IPipeline;
}

describe('The Generate dialog starts from the shot', () => {
  const shot = {
    prompt: 'fog over the quay',
    negativePrompt: 'people',
    style: '35mm film',
    references: ['01_Assets/Music/theme.mp3', '01_Assets/Locations/quay.png']
  };

  it('fills prompt, negative prompt and init image from the shot; the seed says random', () => {
    const body = new GenerateBody([diffusion()], { shot });
    const field = (name: string) =>
      body.node.querySelector<HTMLInputElement>(`[data-parameter="${name}"]`)!;
    expect(field('prompt').value).toBe('fog over the quay');
    expect(field('negative_prompt').value).toBe('people');
    expect(field('init_image').value).toBe('01_Assets/Locations/quay.png');
    expect(field('seed').placeholder).toBe('random');
    expect(body.node.textContent).toContain('style “35mm film” added');
    expect(body.getValue().parameters).toEqual({
      prompt: 'fog over the quay',
      negative_prompt: 'people',
      init_image: '01_Assets/Locations/quay.png'
    });
    expect(shotDefault('init_image', { references: [] })).toBeUndefined();
  });

  it('leaves the shot fields out for a whole scene, and says so', () => {
    const body = new GenerateBody([diffusion()], { batch: { shots: 3 } });
    expect(body.node.querySelector('[data-parameter="prompt"]')).toBeNull();
    expect(body.node.querySelector('[data-parameter="init_image"]')).toBeNull();
    expect(
      body.node.querySelector('[data-testid="gms-generate-batch-note"]')!
        .textContent
    ).toContain('each of the 3 shots');
  });

  it("remembers a shot's pipeline and parameters, never its own fields", async () => {
    const kept = store();
    const memory = new StudioMemory(kept);
    memory.rememberGeneration('sh1', {
      pipeline: 'diffusion',
      parameters: { prompt: 'typed', steps: 8, init_image: 'x.png', seed: 4 }
    });
    expect(memory.generationOf('sh1')).toEqual({
      pipeline: 'diffusion',
      parameters: { steps: 8, seed: 4 }
    });
    await settle();
    const later = new StudioMemory(kept);
    await later.load();
    expect(later.generationOf('sh1')?.parameters.steps).toBe(8);
    expect(kept.data.has(MEMORY_KEY)).toBe(true);
  });
});

describe('A day in the model', () => {
  it('queues one take per shot of a scene', async () => {
    const api = fakeAPI();
    const model = new StudioModel({ api });
    await model.projects.open('film');
    const ids = await model.tasks.generateScene('sc1', 'still', { steps: 2 });
    expect(ids).toHaveLength(2);
    const calls = api.submitTask.mock.calls as unknown as [
      { nodeId: string; parameters: unknown }
    ][];
    expect(calls.map(call => call[0].nodeId)).toEqual(['sh1', 'sh2']);
    expect(calls[0][0].parameters).toEqual({ steps: 2 });
  });

  it('clears Recent for good: a reload does not bring the finished tasks back', async () => {
    const api = fakeAPI();
    api.state.tasks = [
      taskRecord({
        taskId: 'old',
        status: 'completed',
        finished: '2020-01-01T00:00:00Z'
      }),
      taskRecord({ taskId: 'live', status: 'running' })
    ];
    const kept = store();
    const model = new StudioModel({ api, state: kept });
    await model.start();
    await model.projects.open('film');
    expect([...model.tasks.all.keys()].sort()).toEqual(['live', 'old']);
    model.tasks.clearFinished();
    expect([...model.tasks.all.keys()]).toEqual(['live']);
    await settle();

    const again = new StudioModel({ api, state: kept });
    await again.start();
    await again.projects.open('film');
    expect([...again.tasks.all.keys()]).toEqual(['live']);
  });

  it('adds and removes references; moves, trashes and foldering assets', async () => {
    const api = fakeAPI();
    const model = new StudioModel({ api });
    await model.projects.open('film');
    await model.projects.addReference('sh1', '01_Assets/Locations/quay.png');
    expect(api.patchNode).toHaveBeenLastCalledWith(
      'film',
      'sh1',
      { references: ['01_Assets/Locations/quay.png'] },
      undefined
    );
    model.assets.upsert('characters', {
      path: '01_Assets/Characters/mara.png',
      name: 'mara.png',
      category: 'characters',
      kind: 'image',
      size: 1,
      modified: '2026-01-01T00:00:00Z',
      url: 'x'
    });
    model.selection.select({
      kind: 'asset',
      id: '01_Assets/Characters/mara.png'
    });
    const moved = await model.assets.move('01_Assets/Characters/mara.png', {
      folder: 'heroes',
      name: 'mara-young.png'
    });
    expect(moved.path).toBe('01_Assets/Characters/heroes/mara-young.png');
    expect(model.assets.byPath('01_Assets/Characters/mara.png')).toBeNull();
    expect(model.selection.current?.id).toBe(moved.path);
    expect(model.assets.foldersOf('characters')).toEqual(['heroes']);
    await model.assets.makeFolder('styles', 'noir');
    expect(model.assets.foldersOf('styles')).toEqual(['noir']);
    expect(await model.assets.trash(moved.path)).toBe('tr_asset');
    expect(model.assets.byPath(moved.path)).toBeNull();
    expect(model.selection.current).toBeNull();
  });
});

describe('Viewer, storyboard and words', () => {
  it('zooms around the pointer, within bounds, and steps through the shot', () => {
    expect(clampZoom(100)).toBe(16);
    expect(clampZoom(0)).toBe(0.05);
    // the point under the pointer stays put
    expect(zoomAround({ x: 0, y: 0 }, { x: 100, y: 50 }, 1, 2)).toEqual({
      x: -100,
      y: -50
    });
    const project = sampleProject();
    expect(neighbourTake(project, 't1', 1)).toBe('t2');
    expect(neighbourTake(project, 't1', -1)).toBe('t2'); // it wraps around
  });

  it('reorders a storyboard card before or after another', () => {
    expect(reorderIndex(2, 0, false)).toBe(0);
    expect(reorderIndex(0, 2, true)).toBe(2);
    expect(reorderIndex(1, 1, false)).toBeNull();
    expect(reorderIndex(1, 0, true)).toBeNull();
  });

  it('says one word per state, and a take by its names', () => {
    expect(
      taskState(taskRecord({ status: 'cancelled', step: 'step 3/9' }))
    ).toBe('Cancelled');
    expect(
      taskState(taskRecord({ status: 'completed', step: 'step 9/9' }))
    ).toBe('Done');
    expect(
      taskState(taskRecord({ status: 'error', error: 'out of memory' }))
    ).toBe('Failed: out of memory');
    const project = sampleProject();
    expect(takeDisplayPath(project, 't1')).toBe(
      'Chapter 1 / Scene 1 / Shot 1 / Take 1.png'
    );
    expect(displayPath(project, '03_Renders/ch1/sc1/sh1/t1.png')).toBe(
      'Chapter 1 / Scene 1 / Shot 1 / Take 1.png'
    );
  });
});
