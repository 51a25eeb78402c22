/**
 * The Generate dialog: parameters as the server declares them (unset bounds are null), fields
 * left blank so that the project's quality tier decides, and only take pipelines offered.
 */
import { describe, expect, it } from 'vitest';

import {
  effectiveDefault,
  GenerateBody,
  parameterLabel,
  takePipelines,
  validateParameter
} from '../src/dialogs';
import type { IPipeline } from '../src/types';

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
