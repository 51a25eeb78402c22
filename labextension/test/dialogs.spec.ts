/**
 * The Generate dialog: parameters as the server declares them (unset bounds are null), fields
 * left blank so that the project's quality tier decides, and only take pipelines offered.
 */
import { describe, expect, it } from 'vitest';

import {
  effectiveDefault,
  GenerateBody,
  modelLabel,
  parameterLabel,
  takePipelines,
  templateInUse,
  templateLabel,
  templateParameterSpec,
  unavailableReason,
  validateModel,
  validateParameter,
  validateTemplate
} from '../src/dialogs';
import type { IModelList, IPipeline, ITemplateList } from '../src/types';

/** The `still` pipeline as `GET pipelines` answers it (pydantic writes unset bounds as null). */
function still(): IPipeline {
  return {
    id: 'still',
    name: 'Procedural still',
    version: '1.0.0',
    media: 'image',
    description: 'A procedural frame',
    produces: 'take',
    parameters: {
      prompt: {
        type: 'string',
        default: '',
        minimum: null,
        maximum: null,
        enum: null
      },
      seed: {
        type: 'integer',
        default: 0,
        minimum: 0,
        maximum: null,
        enum: null,
        description: 'Same prompt and seed, same frame'
      },
      steps: {
        type: 'integer',
        default: 20,
        minimum: 1,
        maximum: 200,
        enum: null
      }
    },
    tiers: {
      low: { pipelineId: 'gms-still:1.0-low', parameters: { steps: 8 } },
      standard: { pipelineId: 'gms-still:1.0', parameters: { steps: 20 } },
      high: { pipelineId: 'gms-still:1.0-high', parameters: { steps: 40 } }
    }
  };
}

function thumbnail(): IPipeline {
  return {
    ...still(),
    id: 'thumbnail',
    name: 'Thumbnail',
    produces: 'thumbnail',
    parameters: {}
  };
}

/** The diffusion pipeline: a model from the library, frame sizes in multiples of 8. */
function diffusion(): IPipeline {
  return {
    id: 'diffusion',
    name: 'Diffusion',
    version: '1.0.0',
    media: 'image',
    description: 'Stable Diffusion from the library',
    produces: 'take',
    available: true,
    missing: [],
    hint: '',
    parameters: {
      model: {
        type: 'string',
        default: '',
        source: 'models',
        description: 'A model of Library/AI_Models/'
      },
      width: {
        type: 'integer',
        default: 512,
        minimum: 64,
        maximum: 2048,
        multipleOf: 8
      }
    },
    tiers: {}
  };
}

/** A pipeline whose Python packages are not installed, as `GET pipelines` lists it. */
function unplugged(): IPipeline {
  return {
    ...still(),
    id: 'unplugged',
    name: 'Unplugged',
    available: false,
    missing: ['torch', 'diffusers'],
    hint: "pip install 'gms_lab[diffusion]'"
  };
}

function library(...names: string[]): IModelList {
  return {
    folder: 'ws/Library/AI_Models',
    models: names.map((name, i) => ({
      name,
      format: i % 2 ? ('single-file' as const) : ('diffusers' as const),
      family: 'stable-diffusion-1',
      pipelineClass: null,
      size: 1536 * (i + 1),
      path: i % 2 ? `${name}.safetensors` : name
    }))
  };
}

function field(body: GenerateBody, name: string): HTMLInputElement {
  return body.node.querySelector(`[data-parameter="${name}"]`)!;
}

describe('validateParameter', () => {
  it('treats null bounds as no bound', () => {
    const { seed } = still().parameters;
    expect(validateParameter('seed', seed, 11)).toBeNull();
    expect(validateParameter('seed', seed, 123_456)).toBeNull();
    expect(validateParameter('seed', seed, -1)).toBe('Seed must be at least 0');
    expect(validateParameter('seed', seed, 1.5)).toBe(
      'Seed must be a whole number'
    );
  });

  it('checks the bounds that are set, and enums', () => {
    const { steps } = still().parameters;
    expect(validateParameter('steps', steps, 201)).toBe(
      'Steps must be at most 200'
    );
    expect(
      validateParameter('mode', { type: 'string', enum: ['a', 'b'] }, 'c')
    ).toBe('Mode must be one of a, b');
  });

  it('wants frame sizes in the multiple the pipeline declares', () => {
    const { width } = diffusion().parameters;
    expect(validateParameter('width', width, 512)).toBeNull();
    expect(validateParameter('width', width, 100)).toBe(
      'Width must be a multiple of 8'
    );
  });
});

describe('the Generate dialog', () => {
  it('offers only pipelines that make takes', () => {
    expect(takePipelines([still(), thumbnail()]).map(p => p.id)).toEqual([
      'still'
    ]);
    const body = new GenerateBody([thumbnail(), still()]);
    expect(body.pipelines.map(p => p.id)).toEqual(['still']);
  });

  it("shows the tier's values as placeholders and sends only what was typed", () => {
    const body = new GenerateBody([still()], { quality: 'low' });
    expect(field(body, 'steps').value).toBe('');
    expect(field(body, 'steps').placeholder).toBe('8');
    expect(body.getValue()).toEqual({
      pipeline: 'still',
      parameters: {},
      count: 1
    });

    field(body, 'seed').value = '11';
    field(body, 'prompt').value = 'harbour at dawn';
    expect(body.getValue().parameters).toEqual({
      seed: 11,
      prompt: 'harbour at dawn'
    });
    expect(body.validate()).toBeNull();
  });

  it('starts from the given parameters (Generate again, Retry)', () => {
    const body = new GenerateBody([still()], {
      initial: { pipeline: 'still', parameters: { seed: 3, steps: 60 } }
    });
    expect(body.getValue().parameters).toEqual({ seed: 3, steps: 60 });
  });

  it('says under a field why its value is refused, as it is typed', () => {
    const body = new GenerateBody([still()]);
    const steps = field(body, 'steps');
    steps.value = '500';
    steps.dispatchEvent(new Event('input'));
    const message = steps.parentElement!.querySelector('small')!;
    expect(message.textContent).toBe('Steps must be at most 200');
    expect(message.classList.contains('gms-mod-error')).toBe(true);
    expect(steps.validationMessage).toBe('Steps must be at most 200');

    steps.value = '50';
    steps.dispatchEvent(new Event('input'));
    expect(message.classList.contains('gms-mod-error')).toBe(false);
    expect(steps.validationMessage).toBe('');
  });

  it('asks for several takes of the shot at once, a whole number', () => {
    const body = new GenerateBody([still()], {
      initial: { pipeline: 'still', parameters: {}, count: 4 }
    });
    const count = body.node.querySelector<HTMLInputElement>(
      '[data-testid="gms-generate-count"]'
    )!;
    expect(count.value).toBe('4');
    expect(body.getValue().count).toBe(4);
    count.value = '0';
    expect(body.validate()).toBe('Takes must be a whole number, 1 or more');
    count.value = '2.5';
    expect(body.validate()).toBe('Takes must be a whole number, 1 or more');
    count.value = '';
    expect(body.getValue().count).toBe(1);
    expect(body.validate()).toBeNull();
    // a whole scene is one take a shot: no count there
    const scene = new GenerateBody([still()], { batch: { shots: 3 } });
    expect(
      scene.node.querySelector('[data-testid="gms-generate-count"]')
    ).toBeNull();
    expect(scene.getValue().count).toBeUndefined();
  });

  it('labels parameters in words', () => {
    expect(parameterLabel('negative_prompt')).toBe('Negative prompt');
    expect(parameterLabel('seed')).toBe('Seed');
  });

  it("reads a tier's parameter, else the pipeline's default", () => {
    expect(effectiveDefault(still(), 'steps', 'high')).toBe(40);
    expect(effectiveDefault(still(), 'seed', 'high')).toBe(0);
    expect(effectiveDefault(still(), 'steps')).toBe(20);
  });
});

describe('the Generate dialog with pipelines that cannot run here', () => {
  it('lists an unavailable pipeline disabled, with what is missing and how to install it', () => {
    const body = new GenerateBody([unplugged(), still()]);
    const picker = body.node.querySelector<HTMLSelectElement>(
      '[data-testid="gms-generate-pipeline"]'
    )!;
    const option = [...picker.options].find(o => o.value === 'unplugged')!;
    expect(option.disabled).toBe(true);
    expect(option.textContent).toBe('Unplugged (image) — unavailable');
    const reason =
      "Unplugged is unavailable: torch, diffusers are not installed. pip install 'gms_lab[diffusion]'";
    expect(option.title).toBe(reason);
    expect(unavailableReason(unplugged())).toBe(reason);
    const note = body.node.querySelector<HTMLElement>(
      '[data-testid="gms-generate-unavailable"]'
    )!;
    expect(note.hidden).toBe(false);
    expect(note.textContent).toBe(reason);
    // It starts on a pipeline that can run
    expect(body.getValue().pipeline).toBe('still');
    expect(body.validate()).toBeNull();
  });

  it('says why when asked to generate again with a pipeline that became unavailable', () => {
    const body = new GenerateBody([still(), unplugged()], {
      initial: { pipeline: 'unplugged', parameters: {} }
    });
    expect(body.getValue().pipeline).toBe('unplugged');
    expect(body.validate()).toBe(unavailableReason(unplugged()));
    const description = body.node.querySelector('.gms-Dialog-description')!;
    expect(description.textContent).toBe(unavailableReason(unplugged()));
    expect(description.classList.contains('gms-mod-error')).toBe(true);
  });

  it('has no note when every pipeline runs (and servers that do not say are believed)', () => {
    const body = new GenerateBody([still(), diffusion()]);
    const note = body.node.querySelector<HTMLElement>(
      '[data-testid="gms-generate-unavailable"]'
    )!;
    expect(note.hidden).toBe(true);
    expect(unavailableReason(still())).toBeNull(); // no `available` field at all
  });
});

describe('the Generate dialog with models from the library', () => {
  const picker = (body: GenerateBody): HTMLSelectElement =>
    body.node.querySelector('[data-testid="gms-generate-model"]')!;

  it("offers the library's models; blank takes the first, as the server does", () => {
    const body = new GenerateBody([diffusion()], {
      initial: { pipeline: 'diffusion' },
      models: library('tiny-sd', 'dream-v1')
    });
    const select = picker(body);
    expect([...select.options].map(o => [o.value, o.textContent])).toEqual([
      ['', "tiny-sd (default: the library's first)"],
      ['tiny-sd', 'tiny-sd — stable-diffusion-1, 1.5 KB'],
      ['dream-v1', 'dream-v1 — stable-diffusion-1, single file, 3.0 KB']
    ]);
    expect(body.getValue().parameters).toEqual({});
    expect(body.validate()).toBeNull();
    select.value = 'dream-v1';
    select.dispatchEvent(new Event('change'));
    expect(body.getValue().parameters).toEqual({ model: 'dream-v1' });
    expect(body.validate()).toBeNull();
  });

  it('says at once that an empty library has nothing to generate with', () => {
    const body = new GenerateBody([diffusion()], {
      initial: { pipeline: 'diffusion' },
      models: library()
    });
    const message = picker(body).parentElement!.querySelector('small')!;
    const expected =
      'No model in ws/Library/AI_Models: put a diffusers folder (with model_index.json) or a .safetensors checkpoint there';
    expect(message.textContent).toBe(expected);
    expect(message.classList.contains('gms-mod-error')).toBe(true);
    expect(body.validate()).toBe(expected);
  });

  it('keeps a model asked for before, marked as no longer in the library, and refuses it', () => {
    const body = new GenerateBody([diffusion()], {
      initial: { pipeline: 'diffusion', parameters: { model: 'gone-v2' } },
      models: library('tiny-sd')
    });
    const select = picker(body);
    expect(select.value).toBe('gone-v2');
    expect(select.selectedOptions[0].textContent).toBe(
      'gone-v2 (not in the library)'
    );
    expect(body.validate()).toBe(
      'Model gone-v2 is not in ws/Library/AI_Models'
    );
    select.value = 'tiny-sd';
    select.dispatchEvent(new Event('change'));
    expect(body.validate()).toBeNull();
  });

  it('leaves the choice to the server when the library could not be read', () => {
    expect(validateModel('model', 'anything', null)).toBeNull();
    const body = new GenerateBody([diffusion()], {
      initial: { pipeline: 'diffusion' },
      models: null
    });
    expect(picker(body).options[0].textContent).toBe(
      '(the library could not be read)'
    );
    expect(body.validate()).toBeNull();
  });

  it('names a model by its family and format', () => {
    expect(modelLabel(library('a', 'b').models[1])).toBe(
      'b — stable-diffusion-1, single file, 3.0 KB'
    );
  });

  it('refuses a frame size off the multiple as it is typed', () => {
    const body = new GenerateBody([diffusion()], {
      initial: { pipeline: 'diffusion' },
      models: library('tiny-sd')
    });
    const width = field(body, 'width');
    expect(width.step).toBe('8');
    width.value = '100';
    width.dispatchEvent(new Event('input'));
    expect(width.validationMessage).toBe('Width must be a multiple of 8');
    expect(body.validate()).toBe('Width must be a multiple of 8');
  });
});

/** The comfyui pipeline: its `template` names a workflow template (`source: templates`). */
function comfyui(): IPipeline {
  return {
    id: 'comfyui',
    name: 'ComfyUI workflow',
    version: '1.0.0',
    media: 'image',
    description: 'Runs a ComfyUI workflow template',
    produces: 'take',
    parameters: {
      template: {
        type: 'string',
        source: 'templates',
        description: 'The workflow template'
      },
      prompt: { type: 'string', description: 'What the take shows' },
      seed: { type: 'integer', minimum: 0 },
      width: { type: 'integer', minimum: 16, maximum: 16384 }
    },
    tiers: {}
  };
}

/** Templates as `GET pipelines/comfyui/templates` lists them. */
function templates(): ITemplateList {
  const at = (node: string, input: string, nodeTitle: string) => ({
    node,
    input,
    nodeTitle
  });
  return {
    templates: [
      {
        name: 'portrait',
        title: 'Portrait',
        source: 'project',
        path: '02_Source_Creative/workflows/portrait.json',
        tiers: ['standard'],
        media: 'image',
        sha256: 'a',
        parameters: [
          {
            name: 'prompt',
            type: 'string',
            default: 'a face',
            ...at('6', 'text', 'Positive prompt')
          },
          {
            name: 'seed',
            type: 'integer',
            default: 4,
            ...at('3', 'seed', 'KSampler')
          }
        ]
      },
      {
        name: 'square',
        title: 'square',
        source: 'library',
        path: 'Library/Pipeline_Templates/square.json',
        tiers: ['low'],
        media: 'image',
        sha256: 'b',
        parameters: [
          {
            name: 'width',
            type: 'integer',
            default: 64,
            maximum: 128,
            ...at('1', 'width', 'EmptyImage')
          }
        ]
      },
      {
        name: 'editor-save',
        title: 'editor-save',
        source: 'library',
        path: 'Library/Pipeline_Templates/editor-save.json',
        tiers: [],
        media: 'image',
        sha256: '',
        parameters: [],
        error: 'not in the API format: export it with "Export (API)"'
      }
    ],
    tiers: { low: 'square', standard: 'portrait', high: null }
  };
}

describe('the Generate dialog with ComfyUI workflow templates', () => {
  const picker = (body: GenerateBody): HTMLSelectElement =>
    body.node.querySelector('[data-testid="gms-generate-template"]')!;
  const shown = (body: GenerateBody): string[] =>
    [...body.node.querySelectorAll<HTMLElement>('[data-parameter]')].map(
      e => e.dataset.parameter!
    );

  it("offers the templates; blank takes the tier's, and the fields are its parameters", () => {
    const body = new GenerateBody([comfyui()], {
      initial: { pipeline: 'comfyui' },
      quality: 'standard',
      templates: { comfyui: templates() }
    });
    const select = picker(body);
    expect([...select.options].map(o => [o.value, o.textContent])).toEqual([
      ['', "Portrait — portrait (project) — the standard tier's"],
      ['portrait', 'Portrait — portrait (project)'],
      ['square', 'square (library)'],
      ['editor-save', 'editor-save (library) — cannot run']
    ]);
    expect(select.options[3].disabled).toBe(true);
    expect(select.options[3].title).toContain('Export (API)');
    // the fields are what the tier's template binds, its values as placeholders
    expect(shown(body)).toEqual(['template', 'prompt', 'seed']);
    expect(field(body, 'prompt').placeholder).toBe('a face');
    // a blank seed is drawn at random by the server (the template's own 4 is not used)
    expect(field(body, 'seed').placeholder).toBe('random');
    const hint = field(body, 'seed').parentElement!.querySelector('small')!;
    expect(hint.textContent).toBe('Sets KSampler · seed (node 3)');
    expect(body.getValue().parameters).toEqual({});
    expect(body.validate()).toBeNull();
  });

  it('follows the template chosen: its own parameters, bounds and what was typed', () => {
    const body = new GenerateBody([comfyui()], {
      initial: { pipeline: 'comfyui', parameters: { prompt: 'fog' } },
      quality: 'standard',
      templates: { comfyui: templates() }
    });
    const select = picker(body);
    select.value = 'square';
    select.dispatchEvent(new Event('change'));
    expect(shown(body)).toEqual(['template', 'width']);
    const width = field(body, 'width');
    expect(width.placeholder).toBe('64');
    width.value = '256';
    width.dispatchEvent(new Event('input'));
    expect(body.validate()).toBe('Width must be at most 128');
    width.value = '96';
    width.dispatchEvent(new Event('input'));
    expect(body.validate()).toBeNull();
    expect(body.getValue()).toEqual({
      pipeline: 'comfyui',
      parameters: { template: 'square', width: 96 },
      count: 1
    });
    select.value = 'portrait';
    select.dispatchEvent(new Event('change'));
    expect(field(body, 'prompt').value).toBe('fog'); // typed before: kept
  });

  it('says when the tier picks no template and none is chosen', () => {
    const body = new GenerateBody([comfyui()], {
      initial: { pipeline: 'comfyui' },
      quality: 'high',
      templates: { comfyui: templates() }
    });
    expect(picker(body).options[0].textContent).toBe(
      '(no template of the high tier)'
    );
    expect(body.validate()).toBe(
      "No template of the high tier: choose one, or add the tier to a template's binding file"
    );
    expect(shown(body)).toEqual(['template']);
  });

  it('falls back to the declared parameters when the templates could not be read', () => {
    const body = new GenerateBody([comfyui()], {
      initial: { pipeline: 'comfyui' },
      templates: { comfyui: null }
    });
    expect(shown(body)).toEqual(['template', 'prompt', 'seed', 'width']);
    expect(body.validate()).toBeNull();
  });

  it('finds the template in use and describes its parameters', () => {
    const list = templates();
    expect(templateInUse(list, '', 'low')?.name).toBe('square');
    expect(templateInUse(list, 'editor-save', 'low')).toBeNull();
    expect(validateTemplate(list, 'editor-save', 'low')).toBe(
      'Template editor-save: not in the API format: export it with "Export (API)"'
    );
    expect(validateTemplate(list, 'gone', 'low')).toBe(
      'Template gone is not in the library or the project'
    );
    expect(templateLabel(list.templates[0])).toBe(
      'Portrait — portrait (project)'
    );
    expect(
      templateParameterSpec(
        {
          name: 'init_image',
          type: 'image',
          node: '10',
          input: 'image',
          nodeTitle: 'Load Image'
        },
        { type: 'string', description: 'A project file' }
      )
    ).toEqual({
      type: 'string',
      default: undefined,
      minimum: null,
      maximum: null,
      description: 'A project file → Load Image · image (node 10)'
    });
  });
});
