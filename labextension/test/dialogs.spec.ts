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
  unavailableReason,
  validateModel,
  validateParameter
} from '../src/dialogs';
import type { IModelList, IPipeline } from '../src/types';

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
    expect(body.getValue()).toEqual({ pipeline: 'still', parameters: {} });

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
