/**
 * Dialog bodies of the studio's commands: a new project (name and quality) and a generation
 * (pipeline and its parameters, as a form built from the pipeline's declaration).
 */
import { Dialog } from '@jupyterlab/apputils';
import { Widget } from '@lumino/widgets';

import type {
  IPipeline,
  IPipelineParameter,
  JSONRecord,
  Quality
} from './types';
import { QUALITIES } from './types';

/** What the New project dialog returns. */
export interface INewProjectValue {
  name: string;
  quality: Quality;
}

function labelled(
  text: string,
  control: HTMLElement,
  hint?: string
): HTMLLabelElement {
  const label = document.createElement('label');
  label.className = 'gms-DialogField';
  const caption = document.createElement('span');
  caption.textContent = text;
  label.append(caption, control);
  if (hint) {
    const small = document.createElement('small');
    small.textContent = hint;
    label.append(small);
  }
  return label;
}

/**
 * The body of the New project dialog.
 */
export class NewProjectBody
  extends Widget
  implements Dialog.IBodyWidget<INewProjectValue>
{
  /**
   * @param quality - the quality preselected (the `defaultQuality` setting)
   * @param name - a name to start from (when the dialog is shown again after an error)
   */
  constructor(quality: Quality, name = '') {
    super();
    this.addClass('gms-Dialog');
    this.node.dataset.testid = 'gms-new-project-dialog';
    this._name.className = 'jp-mod-styled';
    this._name.placeholder = 'My film';
    this._name.value = name;
    this._name.maxLength = 120;
    this._name.dataset.testid = 'gms-new-project-name';
    this._quality.className = 'jp-mod-styled';
    this._quality.dataset.testid = 'gms-new-project-quality';
    for (const option of QUALITIES) {
      const element = document.createElement('option');
      element.value = option;
      element.textContent = option;
      this._quality.append(element);
    }
    this._quality.value = quality;
    this.node.append(
      labelled('Name', this._name),
      labelled(
        'Quality',
        this._quality,
        'Chooses the pipeline tier: speed against fidelity.'
      )
    );
  }

  /** The name and quality entered. */
  getValue(): INewProjectValue {
    return {
      name: this._name.value.trim(),
      quality: this._quality.value as Quality
    };
  }

  protected onAfterAttach(): void {
    this._name.focus();
  }

  private _name = document.createElement('input');
  private _quality = document.createElement('select');
}

/** What the Generate dialog returns. */
export interface IGenerateValue {
  pipeline: string;
  parameters: JSONRecord;
}

/** Why a parameter value is not valid, or null. */
export function validateParameter(
  name: string,
  spec: IPipelineParameter,
  value: unknown
): string | null {
  if (value === undefined) {
    return null;
  }
  if (spec.type === 'integer' || spec.type === 'number') {
    if (typeof value !== 'number' || !Number.isFinite(value)) {
      return `${name} must be a number`;
    }
    if (spec.type === 'integer' && !Number.isInteger(value)) {
      return `${name} must be a whole number`;
    }
    if (spec.minimum !== undefined && value < spec.minimum) {
      return `${name} must be at least ${spec.minimum}`;
    }
    if (spec.maximum !== undefined && value > spec.maximum) {
      return `${name} must be at most ${spec.maximum}`;
    }
  }
  if (spec.enum && !spec.enum.includes(value)) {
    return `${name} must be one of ${spec.enum.join(', ')}`;
  }
  return null;
}

/**
 * The body of the Generate take dialog: a pipeline picker and a form for its parameters.
 */
export class GenerateBody
  extends Widget
  implements Dialog.IBodyWidget<IGenerateValue>
{
  /**
   * @param pipelines - the registry
   * @param initial - the pipeline and parameters to start from (Generate again, Retry)
   */
  constructor(
    private readonly pipelines: readonly IPipeline[],
    initial: Partial<IGenerateValue> = {}
  ) {
    super();
    this.addClass('gms-Dialog');
    this.node.dataset.testid = 'gms-generate-dialog';
    this._pipeline.className = 'jp-mod-styled';
    this._pipeline.dataset.testid = 'gms-generate-pipeline';
    for (const pipeline of pipelines) {
      const option = document.createElement('option');
      option.value = pipeline.id;
      option.textContent = `${pipeline.name} (${pipeline.media})`;
      this._pipeline.append(option);
    }
    const start =
      pipelines.find(p => p.id === initial.pipeline) ??
      pipelines.find(p => p.id === 'still') ??
      pipelines[0];
    if (start) {
      this._pipeline.value = start.id;
    }
    this._initial = initial.parameters ?? {};
    this._pipeline.addEventListener('change', () => this._renderParameters());
    this.node.append(
      labelled('Pipeline', this._pipeline),
      this._description,
      this._fields
    );
    this._description.className = 'gms-Dialog-description';
    this._renderParameters();
  }

  /** The pipeline chosen and the parameters entered (blank fields are left to the defaults). */
  getValue(): IGenerateValue {
    const parameters: JSONRecord = {};
    const pipeline = this._current();
    for (const [name, input] of this._inputs) {
      const spec = pipeline?.parameters[name];
      if (!spec) {
        continue;
      }
      if (input instanceof HTMLInputElement && input.type === 'checkbox') {
        parameters[name] = input.checked;
      } else if (input.value === '') {
        continue;
      } else if (spec.type === 'integer' || spec.type === 'number') {
        parameters[name] = Number(input.value);
      } else if (spec.enum) {
        parameters[name] = spec.enum.find(
          option => String(option) === input.value
        );
      } else {
        parameters[name] = input.value;
      }
    }
    return { pipeline: this._pipeline.value, parameters };
  }

  /** Why the entered values cannot be submitted, or null. */
  validate(): string | null {
    const pipeline = this._current();
    if (!pipeline) {
      return 'No pipeline is available';
    }
    const { parameters } = this.getValue();
    for (const [name, spec] of Object.entries(pipeline.parameters)) {
      const error = validateParameter(name, spec, parameters[name]);
      if (error) {
        return error;
      }
    }
    return null;
  }

  private _current(): IPipeline | undefined {
    return this.pipelines.find(p => p.id === this._pipeline.value);
  }

  private _renderParameters(): void {
    const pipeline = this._current();
    this._description.textContent = pipeline?.description ?? '';
    this._fields.replaceChildren();
    this._inputs.clear();
    for (const [name, spec] of Object.entries(pipeline?.parameters ?? {})) {
      const value = this._initial[name] ?? spec.default;
      let input: HTMLInputElement | HTMLSelectElement;
      if (spec.enum) {
        input = document.createElement('select');
        for (const option of spec.enum) {
          const element = document.createElement('option');
          element.value = String(option);
          element.textContent = String(option);
          input.append(element);
        }
        input.value = value === undefined ? '' : String(value);
      } else if (spec.type === 'boolean') {
        input = document.createElement('input');
        input.type = 'checkbox';
        input.checked = value === true;
      } else {
        input = document.createElement('input');
        if (spec.type === 'integer' || spec.type === 'number') {
          input.type = 'number';
          input.step = spec.type === 'integer' ? '1' : 'any';
          if (spec.minimum !== undefined) {
            input.min = String(spec.minimum);
          }
          if (spec.maximum !== undefined) {
            input.max = String(spec.maximum);
          }
        } else {
          input.type = 'text';
        }
        input.value =
          value === undefined || value === null
            ? ''
            : typeof value === 'string'
              ? value
              : JSON.stringify(value);
      }
      input.className = 'jp-mod-styled';
      input.dataset.parameter = name;
      this._inputs.set(name, input);
      this._fields.append(labelled(name, input, spec.description));
    }
  }

  private _pipeline = document.createElement('select');
  private _description = document.createElement('p');
  private _fields = document.createElement('div');
  private _inputs = new Map<string, HTMLInputElement | HTMLSelectElement>();
  private _initial: JSONRecord;
}
