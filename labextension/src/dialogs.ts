/**
 * Dialog bodies of the studio's commands: a new project (name and quality) and a generation
 * (pipeline and its parameters, as a form built from the pipeline's declaration).
 */
import { Dialog } from '@jupyterlab/apputils';
import { Widget } from '@lumino/widgets';

import { mediaKindOf } from './hierarchy';
import { formatBytes } from './models/uploads';
import type {
  CategoryKey,
  IModelInfo,
  IModelList,
  IPipeline,
  IPipelineParameter,
  ITemplateInfo,
  ITemplateList,
  ITemplateParameter,
  JSONRecord,
  Quality
} from './types';
import {
  CATEGORY_KEYS,
  CATEGORY_LABELS,
  QUALITIES,
  QUALITY_DESCRIPTIONS,
  QUALITY_LABELS
} from './types';

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
  if (hint !== undefined) {
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
  constructor(quality: Quality, name = '', warn = false) {
    super();
    this.addClass('gms-Dialog');
    this.node.dataset.testid = 'gms-new-project-dialog';
    this._name.className = 'jp-mod-styled';
    this._name.placeholder = 'My film';
    this._name.value = name;
    this._name.maxLength = 120;
    this._name.dataset.testid = 'gms-new-project-name';
    // Empty (or blank) is invalid: the dialog keeps Create disabled and says why, here.
    this._name.required = true;
    this._name.pattern = '.*\\S.*';
    this._quality.className = 'jp-mod-styled';
    this._quality.dataset.testid = 'gms-new-project-quality';
    for (const option of QUALITIES) {
      const element = document.createElement('option');
      element.value = option;
      element.textContent = QUALITY_LABELS[option];
      this._quality.append(element);
    }
    this._quality.value = quality;
    const nameField = labelled('Name', this._name, '');
    this._nameHint = nameField.querySelector('small')!;
    this._nameHint.dataset.testid = 'gms-new-project-name-hint';
    const qualityField = labelled('Quality', this._quality, '');
    this._qualityHint = qualityField.querySelector('small')!;
    this._qualityHint.dataset.testid = 'gms-new-project-quality-hint';
    this.node.append(nameField, qualityField);
    this._touched = warn;
    this._name.addEventListener('input', () => {
      this._touched = true;
      this._checkName();
    });
    this._quality.addEventListener('change', () => this._describe());
    this._checkName();
    this._describe();
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
    // Let the dialog see the (empty) name at once: Create stays disabled until there is one.
    // The dialog listens for input only once it is attached itself (after its body), hence the
    // frame; the event comes from the quality picker so the name is not marked as touched.
    requestAnimationFrame(() =>
      this._quality.dispatchEvent(new Event('input', { bubbles: true }))
    );
  }

  private _checkName(): void {
    const empty = this._name.value.trim() === '';
    this._nameHint.textContent = empty
      ? 'A project needs a name.'
      : 'Its folder in Projects/ is named after it.';
    this._nameHint.classList.toggle('gms-mod-error', empty && this._touched);
  }

  private _describe(): void {
    this._qualityHint.textContent =
      QUALITY_DESCRIPTIONS[this._quality.value as Quality] ?? '';
  }

  private _name = document.createElement('input');
  private _quality = document.createElement('select');
  private _nameHint: HTMLElement;
  private _qualityHint: HTMLElement;
  private _touched: boolean;
}

/** What the Generate dialog returns. */
export interface IGenerateValue {
  pipeline: string;
  parameters: JSONRecord;
  /** Takes to make at once (one shot only; 1 when absent). */
  count?: number;
}

/** Why a number of takes cannot be asked for, or null. */
export function validateCount(count: number): string | null {
  return Number.isInteger(count) && count >= 1
    ? null
    : 'Takes must be a whole number, 1 or more';
}

/** Why a parameter value is not valid, or null. Bounds the pipeline left unset are null. */
export function validateParameter(
  name: string,
  spec: IPipelineParameter,
  value: unknown
): string | null {
  if (value === undefined) {
    return null;
  }
  const label = parameterLabel(name);
  if (spec.type === 'integer' || spec.type === 'number') {
    if (typeof value !== 'number' || !Number.isFinite(value)) {
      return `${label} must be a number`;
    }
    if (spec.type === 'integer' && !Number.isInteger(value)) {
      return `${label} must be a whole number`;
    }
    if (typeof spec.minimum === 'number' && value < spec.minimum) {
      return `${label} must be at least ${spec.minimum}`;
    }
    if (typeof spec.maximum === 'number' && value > spec.maximum) {
      return `${label} must be at most ${spec.maximum}`;
    }
    if (
      typeof spec.multipleOf === 'number' &&
      spec.multipleOf > 0 &&
      value % spec.multipleOf !== 0
    ) {
      return `${label} must be a multiple of ${spec.multipleOf}`;
    }
  }
  if (Array.isArray(spec.enum) && !spec.enum.includes(value)) {
    return `${label} must be one of ${spec.enum.join(', ')}`;
  }
  return null;
}

/** A parameter's name as a label: `negative_prompt` → `Negative prompt`. */
export function parameterLabel(name: string): string {
  const words = name.replace(/[_-]+/g, ' ').trim();
  return words ? words[0].toUpperCase() + words.slice(1) : name;
}

/** Whether a pipeline can run here (a server that does not say is taken at its word). */
export function isAvailable(pipeline: IPipeline): boolean {
  return pipeline.available !== false;
}

/** Why a pipeline cannot run here, for the dialog: what is missing and how to install it. */
export function unavailableReason(pipeline: IPipeline): string | null {
  if (isAvailable(pipeline)) {
    return null;
  }
  const missing = pipeline.missing ?? [];
  const what = missing.length
    ? `${missing.join(', ')} ${missing.length === 1 ? 'is' : 'are'} not installed`
    : 'what it needs is not installed';
  return `${pipeline.name} is unavailable: ${what}.${pipeline.hint ? ` ${pipeline.hint}` : ''}`;
}

/** Whether a parameter names a workflow template of the pipeline. */
export function isTemplateParameter(spec: IPipelineParameter): boolean {
  return spec.source === 'templates';
}

/** Whether a parameter names a model of the workspace's library. */
export function isModelParameter(spec: IPipelineParameter): boolean {
  return spec.source === 'models';
}

/** A model as one line of the picker: name, family (or format) and size. */
export function modelLabel(model: IModelInfo): string {
  const kind =
    model.format === 'single-file'
      ? `${model.family ?? 'checkpoint'}, single file`
      : (model.family ?? 'diffusers');
  return `${model.name} — ${kind}, ${formatBytes(model.size)}`;
}

/**
 * Why a model choice cannot be submitted, or null. A blank choice takes the library's first
 * model, so it needs a library with one; a library not read (null) is left to the server.
 */
export function validateModel(
  name: string,
  value: unknown,
  library: IModelList | null | undefined
): string | null {
  if (!library) {
    return null;
  }
  const where = library.folder || 'Library/AI_Models';
  if (library.models.length === 0) {
    return `No model in ${where}: put a diffusers folder (with model_index.json) or a .safetensors checkpoint there`;
  }
  if (
    typeof value === 'string' &&
    value !== '' &&
    !library.models.some(m => m.name === value)
  ) {
    return `${parameterLabel(name)} ${value} is not in ${where}`;
  }
  return null;
}

/** The pipelines a take can be generated with (not thumbnails or exports). */
export function takePipelines(pipelines: readonly IPipeline[]): IPipeline[] {
  return pipelines.filter(p => (p.produces ?? 'take') === 'take');
}

/**
 * The value a parameter takes when the user leaves it blank: the tier's (for the project's
 * quality), else the pipeline's default.
 */
export function effectiveDefault(
  pipeline: IPipeline,
  name: string,
  quality?: Quality
): unknown {
  const tier = quality ? pipeline.tiers?.[quality] : undefined;
  const fromTier =
    tier && typeof tier === 'object'
      ? (tier as { parameters?: JSONRecord }).parameters?.[name]
      : undefined;
  return fromTier !== undefined ? fromTier : pipeline.parameters[name]?.default;
}

/** The parameter of a pipeline that names a workflow template (ComfyUI), if it has one. */
export function templateParameter(pipeline: IPipeline): string | null {
  const found = Object.entries(pipeline.parameters).find(
    ([, spec]) => spec.source === 'templates'
  );
  return found ? found[0] : null;
}

/** The template a take would use: the one named, else the one the project's tier picks. */
export function templateInUse(
  list: ITemplateList | null | undefined,
  chosen: string,
  quality?: Quality
): ITemplateInfo | null {
  if (!list) {
    return null;
  }
  const name = chosen || (quality ? list.tiers[quality] : null) || '';
  return list.templates.find(t => t.name === name && !t.error) ?? null;
}

/** A template as one line of the picker: its title, file name and where it lives. */
export function templateLabel(template: ITemplateInfo): string {
  const where = template.source === 'project' ? 'project' : 'library';
  const title =
    template.title && template.title !== template.name
      ? `${template.title} — ${template.name}`
      : template.name;
  return `${title} (${where})`;
}

/**
 * A template's parameter as a field of the form: its type, bounds (the pipeline's where the
 * template sets none) and the node input it sets; an `image` is a project path typed in.
 */
export function templateParameterSpec(
  parameter: ITemplateParameter,
  declared?: IPipelineParameter
): IPipelineParameter {
  const where = `${parameter.nodeTitle} · ${parameter.input} (node ${parameter.node})`;
  const about = parameter.description || declared?.description || '';
  return {
    type: parameter.type === 'image' ? 'string' : parameter.type,
    default: parameter.default ?? undefined,
    minimum: parameter.minimum ?? declared?.minimum ?? null,
    maximum: parameter.maximum ?? declared?.maximum ?? null,
    description: about ? `${about} → ${where}` : `Sets ${where}`
  };
}

/** Why a template choice cannot be submitted, or null. */
export function validateTemplate(
  list: ITemplateList | null | undefined,
  chosen: string,
  quality?: Quality
): string | null {
  if (!list) {
    return null; // not read: the server decides
  }
  if (chosen) {
    const template = list.templates.find(t => t.name === chosen);
    if (!template) {
      return `Template ${chosen} is not in the library or the project`;
    }
    return template.error ? `Template ${chosen}: ${template.error}` : null;
  }
  if (!templateInUse(list, '', quality)) {
    return `No template of the ${quality ?? 'project'} tier: choose one, or add the tier to a template's binding file`;
  }
  return null;
}

/** Text parameters that take a sentence get a wide field of their own. */
function isLongText(name: string, spec: IPipelineParameter): boolean {
  return (
    spec.type === 'string' && !spec.enum && /prompt|text|caption/.test(name)
  );
}

function asText(value: unknown): string {
  return value === undefined || value === null
    ? ''
    : typeof value === 'string'
      ? value
      : JSON.stringify(value);
}

/** Options of the Generate dialog body. */
export interface IGenerateBodyOptions {
  /** The pipeline and parameters to start from (Generate again, Retry). */
  initial?: Partial<IGenerateValue>;
  /** The project's quality, for the tier's values shown as placeholders. */
  quality?: Quality;
  /** The workspace's model library, for parameters whose values are models. */
  models?: IModelList | null;
  /** Each template pipeline's workflow templates (null: the list could not be read). */
  templates?: { [pipeline: string]: ITemplateList | null };
  /** The shot's own prompt, negative prompt, style and references: the fields' defaults. */
  shot?: IShotDefaults | null;
  /** For a batch of shots (a whole scene): the shot fields are left to each shot. */
  batch?: { shots: number } | null;
}

/** What a shot brings to a take: its prompt, negative prompt, style and references. */
export interface IShotDefaults {
  prompt?: string;
  negativePrompt?: string;
  style?: string;
  references?: string[];
}

/** Parameters whose default is the shot's own (each shot's in a batch). */
export const FROM_SHOT = new Set(['prompt', 'negative_prompt', 'init_image']);

/** The value a parameter takes from the shot, if any. */
export function shotDefault(
  name: string,
  shot: IShotDefaults | null | undefined
): string | undefined {
  if (!shot) {
    return undefined;
  }
  switch (name) {
    case 'prompt':
      return shot.prompt || undefined;
    case 'negative_prompt':
      return shot.negativePrompt || undefined;
    case 'style':
      return shot.style || undefined;
    case 'init_image':
      return (shot.references ?? []).find(ref => mediaKindOf(ref) === 'image');
    default:
      return undefined;
  }
}

/**
 * The body of the Generate take dialog: a pipeline picker and a form for its parameters.
 *
 * Fields start blank, showing the value the project's tier would use: only what the user types
 * is sent, so that the quality tier keeps deciding the rest. Each field is checked as it is
 * typed; an invalid one says why under it and keeps the Generate button disabled.
 */
export class GenerateBody
  extends Widget
  implements Dialog.IBodyWidget<IGenerateValue>
{
  /**
   * @param pipelines - the registry (only take pipelines are offered)
   * @param options - where to start from and the project's quality
   */
  constructor(
    pipelines: readonly IPipeline[],
    options: IGenerateBodyOptions = {}
  ) {
    super();
    this.pipelines = takePipelines(pipelines);
    this._quality = options.quality;
    this._models = options.models ?? null;
    this._templates = options.templates ?? {};
    this._shot = options.shot ?? null;
    this._batch = options.batch ?? null;
    const initial = options.initial ?? {};
    this.addClass('gms-Dialog');
    this.addClass('gms-GenerateDialog');
    this.node.dataset.testid = 'gms-generate-dialog';
    this._pipeline.className = 'jp-mod-styled';
    this._pipeline.dataset.testid = 'gms-generate-pipeline';
    for (const pipeline of this.pipelines) {
      const option = document.createElement('option');
      option.value = pipeline.id;
      option.textContent = `${pipeline.name} (${pipeline.media})`;
      const reason = unavailableReason(pipeline);
      if (reason) {
        // Listed, so the user learns it exists and what it needs, but not choosable.
        option.disabled = true;
        option.textContent += ' — unavailable';
        option.title = reason;
      }
      this._pipeline.append(option);
    }
    this._unavailable.className = 'gms-Dialog-unavailable';
    this._unavailable.dataset.testid = 'gms-generate-unavailable';
    for (const pipeline of this.pipelines) {
      const reason = unavailableReason(pipeline);
      if (reason) {
        const item = document.createElement('li');
        item.dataset.pipeline = pipeline.id;
        item.textContent = reason;
        this._unavailable.append(item);
      }
    }
    this._unavailable.hidden = this._unavailable.childElementCount === 0;
    // What was asked for (Generate again) even if it became unavailable: the dialog says why.
    const start =
      this.pipelines.find(p => p.id === initial.pipeline) ??
      this.pipelines.find(p => p.id === 'still' && isAvailable(p)) ??
      this.pipelines.find(isAvailable) ??
      this.pipelines[0];
    if (start) {
      this._pipeline.value = start.id;
    }
    this._initial = initial.parameters ?? {};
    this._pipeline.addEventListener('change', () => {
      this._initial = {};
      this._renderParameters();
    });
    this._description.className = 'gms-Dialog-description';
    // a long description scrolls in its own box, by wheel or keyboard
    this._description.tabIndex = 0;
    this._description.dataset.testid = 'gms-generate-description';
    this._fields.className = 'gms-Dialog-fields';
    const head = document.createElement('div');
    head.className = 'gms-GenerateDialog-head';
    head.append(labelled('Pipeline', this._pipeline));
    this.node.append(head, this._unavailable, this._description, this._fields);
    if (!this._batch) {
      // several takes of the shot at once, each its own seed (one up from the one given)
      this._count.className = 'jp-mod-styled';
      this._count.type = 'number';
      this._count.min = '1';
      this._count.step = '1';
      this._count.value = String(initial.count ?? 1);
      this._count.dataset.testid = 'gms-generate-count';
      this._count.title =
        'How many takes to make at once: each its own task, the seed going up by one from the one given (or each at random)';
      head.append(labelled('Takes', this._count));
    }
    this._renderParameters();
  }

  /** The pipelines offered. */
  readonly pipelines: readonly IPipeline[];

  /** The pipeline chosen and the parameters entered (blank fields are left to the tier). */
  getValue(): IGenerateValue {
    const parameters: JSONRecord = {};
    const pipeline = this._current();
    for (const [name, input] of this._inputs) {
      const value = pipeline ? this._read(pipeline, name, input) : undefined;
      if (value !== undefined) {
        parameters[name] = value;
      }
    }
    const value: IGenerateValue = {
      pipeline: this._pipeline.value,
      parameters
    };
    if (!this._batch) {
      value.count =
        this._count.value.trim() === '' ? 1 : Number(this._count.value);
    }
    return value;
  }

  /** Why the entered values cannot be submitted, or null. */
  validate(): string | null {
    const pipeline = this._current();
    if (!pipeline) {
      return 'No pipeline is available';
    }
    const reason = unavailableReason(pipeline);
    if (reason) {
      return reason;
    }
    const { parameters, count } = this.getValue();
    const wrongCount = validateCount(count ?? 1);
    if (wrongCount) {
      return wrongCount;
    }
    for (const [name, spec] of Object.entries(this._specs(pipeline))) {
      const error = isModelParameter(spec)
        ? validateModel(name, parameters[name], this._models)
        : isTemplateParameter(spec)
          ? validateTemplate(
              this._templates[pipeline.id],
              asText(parameters[name]),
              this._quality
            )
          : validateParameter(name, spec, parameters[name]);
      if (error) {
        return error;
      }
    }
    return null;
  }

  protected onAfterAttach(): void {
    this._inputs.values().next().value?.focus();
  }

  private _current(): IPipeline | undefined {
    return this.pipelines.find(p => p.id === this._pipeline.value);
  }

  /**
   * The fields of the form: the pipeline's parameters; for a template pipeline, the template
   * picker and the parameters the template in use takes (what it does not bind is not shown).
   */
  private _specs(pipeline: IPipeline): { [name: string]: IPipelineParameter } {
    const picker = templateParameter(pipeline);
    const list = this._templates[pipeline.id];
    if (!picker || !list) {
      return pipeline.parameters;
    }
    const template = templateInUse(list, this._chosenTemplate(), this._quality);
    const specs: { [name: string]: IPipelineParameter } = {
      [picker]: pipeline.parameters[picker]
    };
    for (const parameter of template?.parameters ?? []) {
      specs[parameter.name] = templateParameterSpec(
        parameter,
        pipeline.parameters[parameter.name]
      );
    }
    return specs;
  }

  private _chosenTemplate(): string {
    const pipeline = this._current();
    const picker = pipeline ? templateParameter(pipeline) : null;
    const input = picker ? this._inputs.get(picker) : undefined;
    return input ? input.value : asText(picker ? this._initial[picker] : '');
  }

  /** The value of one field as sent, or undefined when it is left to the tier. */
  private _read(
    pipeline: IPipeline,
    name: string,
    input: HTMLInputElement | HTMLSelectElement
  ): unknown {
    // the spec the field was drawn with (a template switch re-reads the fields before redrawing)
    const spec = this._drawn[name] ?? this._specs(pipeline)[name];
    if (!spec) {
      return undefined;
    }
    if (input instanceof HTMLInputElement && input.type === 'checkbox') {
      const standard = effectiveDefault(pipeline, name, this._quality) === true;
      return input.checked === standard && this._initial[name] === undefined
        ? undefined
        : input.checked;
    }
    if (input.value === '') {
      return undefined;
    }
    if (spec.type === 'integer' || spec.type === 'number') {
      return Number(input.value);
    }
    if (spec.enum) {
      return spec.enum.find(option => String(option) === input.value);
    }
    return input.value;
  }

  /** Check one field as typed: the browser's validity drives the dialog's Generate button. */
  private _check(
    name: string,
    input: HTMLInputElement | HTMLSelectElement,
    message: HTMLElement
  ): void {
    const pipeline = this._current();
    const spec = pipeline ? this._specs(pipeline)[name] : undefined;
    if (!pipeline || !spec) {
      return;
    }
    const raw = this._read(pipeline, name, input);
    const error =
      input instanceof HTMLInputElement &&
      input.type === 'number' &&
      input.validity.badInput
        ? `${parameterLabel(name)} must be a number`
        : isModelParameter(spec)
          ? validateModel(name, raw, this._models)
          : isTemplateParameter(spec)
            ? validateTemplate(
                this._templates[pipeline.id],
                asText(raw),
                this._quality
              )
            : validateParameter(name, spec, raw);
    input.setCustomValidity(error ?? '');
    message.textContent = error ?? spec.description ?? '';
    message.classList.toggle('gms-mod-error', error !== null);
  }

  private _renderParameters(): void {
    const pipeline = this._current();
    const reason = pipeline ? unavailableReason(pipeline) : null;
    this._description.textContent = reason ?? pipeline?.description ?? '';
    this._description.title = reason ?? pipeline?.description ?? '';
    this._description.classList.toggle('gms-mod-error', reason !== null);
    this._fields.replaceChildren();
    this._inputs.clear();
    this._drawn = {};
    if (!pipeline) {
      return;
    }
    const templates = this._templates[pipeline.id];
    this._drawn = this._specs(pipeline);
    if (this._batch) {
      const note = document.createElement('p');
      note.className = 'gms-Dialog-note';
      note.dataset.testid = 'gms-generate-batch-note';
      note.textContent = `One take for each of the ${this._batch.shots} shots, each from its own prompt, style and references. What you set here applies to all of them.`;
      this._fields.append(note);
    }
    for (const [name, spec] of Object.entries(this._drawn)) {
      if (this._batch && (FROM_SHOT.has(name) || name === 'style')) {
        continue;
      }
      const fromShot = shotDefault(name, this._shot);
      const given = this._initial[name] ?? fromShot;
      const standard =
        pipeline.parameters[name] && !templates
          ? effectiveDefault(pipeline, name, this._quality)
          : spec.default;
      let input: HTMLInputElement | HTMLSelectElement;
      if (isModelParameter(spec)) {
        input = this._modelPicker(given);
      } else if (isTemplateParameter(spec) && templates) {
        input = this._templatePicker(templates, given);
      } else if (spec.enum) {
        input = document.createElement('select');
        const blank = document.createElement('option');
        blank.value = '';
        blank.textContent = `${asText(standard) || '—'} (default)`;
        input.append(blank);
        for (const option of spec.enum) {
          const element = document.createElement('option');
          element.value = String(option);
          element.textContent = String(option);
          input.append(element);
        }
        input.value = asText(given);
      } else if (spec.type === 'boolean') {
        input = document.createElement('input');
        input.type = 'checkbox';
        input.checked = (given ?? standard) === true;
      } else {
        input = document.createElement('input');
        if (spec.type === 'integer' || spec.type === 'number') {
          input.type = 'number';
          input.step = spec.type === 'integer' ? '1' : 'any';
          if (typeof spec.minimum === 'number') {
            input.min = String(spec.minimum);
          }
          if (typeof spec.maximum === 'number') {
            input.max = String(spec.maximum);
          }
          if (typeof spec.multipleOf === 'number' && spec.multipleOf > 0) {
            input.step = String(spec.multipleOf);
          }
        } else {
          input.type = 'text';
        }
        // the server picks a seed at random when none is given: say so
        input.placeholder = name === 'seed' ? 'random' : asText(standard);
        input.value = asText(given);
      }
      input.className = 'jp-mod-styled';
      input.dataset.parameter = name;
      this._inputs.set(name, input);
      const field = labelled(
        parameterLabel(name),
        input,
        spec.description ?? ''
      );
      const note = this._shotNote(pipeline, name, fromShot);
      if (note) {
        const from = document.createElement('span');
        from.className = 'gms-Dialog-fromShot';
        from.textContent = note;
        field.querySelector('span')!.append(from);
      }
      if (isLongText(name, spec) || isModelParameter(spec)) {
        field.classList.add('gms-mod-wide');
      }
      const message = field.querySelector('small')!;
      const check = (): void => this._check(name, input, message);
      input.addEventListener('input', check);
      input.addEventListener('change', check);
      this._fields.append(field);
      if (isModelParameter(spec)) {
        check(); // an empty library, or a model gone since, is said at once
      }
      if (isTemplateParameter(spec) && templates) {
        check();
        // another template takes other parameters: the form follows it, keeping what was typed
        input.addEventListener('change', () => {
          // fields not shown keep what was typed in them before
          const kept = { ...this._initial };
          for (const shownName of this._inputs.keys()) {
            delete kept[shownName];
          }
          this._initial = {
            ...kept,
            ...this.getValue().parameters,
            [name]: input.value
          };
          this._renderParameters();
          this._inputs.get(name)?.focus();
        });
      }
    }
  }

  /** A picker of the workflow templates; blank takes the one the project's tier picks. */
  private _templatePicker(
    list: ITemplateList,
    given: unknown
  ): HTMLSelectElement {
    const select = document.createElement('select');
    select.dataset.testid = 'gms-generate-template';
    const pick = templateInUse(list, '', this._quality);
    const blank = document.createElement('option');
    blank.value = '';
    blank.textContent = pick
      ? `${templateLabel(pick)} — the ${this._quality ?? 'project'} tier's`
      : `(no template of the ${this._quality ?? 'project'} tier)`;
    select.append(blank);
    for (const template of list.templates) {
      const option = document.createElement('option');
      option.value = template.name;
      option.textContent = templateLabel(template);
      option.title =
        template.error ?? `${template.path}\n${template.description ?? ''}`;
      if (template.error) {
        // listed so the user learns why it cannot run (it says so when hovered)
        option.disabled = true;
        option.textContent += ' — cannot run';
      }
      select.append(option);
    }
    select.value = asText(given);
    return select;
  }

  /** Where a field's starting value comes from, when it is the shot's. */
  private _shotNote(
    pipeline: IPipeline,
    name: string,
    fromShot: string | undefined
  ): string | null {
    const style = this._shot?.style;
    if (name === 'prompt' && style && !('style' in pipeline.parameters)) {
      return fromShot
        ? ` — the shot's, with its style “${style}” added`
        : ` — the shot's style “${style}” is added`;
    }
    return fromShot !== undefined && this._initial[name] === undefined
      ? " — the shot's"
      : null;
  }

  /** A picker of the library's models; blank takes the first one, as the server does. */
  private _modelPicker(given: unknown): HTMLSelectElement {
    const select = document.createElement('select');
    select.dataset.testid = 'gms-generate-model';
    const models = this._models?.models ?? [];
    const blank = document.createElement('option');
    blank.value = '';
    blank.textContent = !this._models
      ? '(the library could not be read)'
      : models.length
        ? `${models[0].name} (default: the library's first)`
        : '(no model in the library)';
    select.append(blank);
    for (const model of models) {
      const option = document.createElement('option');
      option.value = model.name;
      option.textContent = modelLabel(model);
      option.title = model.path;
      select.append(option);
    }
    const wanted = asText(given);
    if (wanted && !models.some(m => m.name === wanted)) {
      // Asked for before (Generate again) but not in the library now: shown, and refused.
      const option = document.createElement('option');
      option.value = wanted;
      option.textContent = `${wanted} (not in the library)`;
      select.append(option);
    }
    select.value = wanted;
    return select;
  }

  private _pipeline = document.createElement('select');
  private _unavailable = document.createElement('ul');
  private _description = document.createElement('p');
  private _fields = document.createElement('div');
  private _count = document.createElement('input');
  private _inputs = new Map<string, HTMLInputElement | HTMLSelectElement>();
  private _initial: JSONRecord;
  private _quality: Quality | undefined;
  private _models: IModelList | null;
  private _templates: { [pipeline: string]: ITemplateList | null };
  private _drawn: { [name: string]: IPipelineParameter } = {};
  private _shot: IShotDefaults | null;
  private _batch: { shots: number } | null;
}

/** What the Move asset dialog returns. */
export interface IMoveAssetValue {
  category: CategoryKey;
  folder: string;
}

/**
 * The body of the Move asset dialog: a category and a folder in it (an existing one, or a new
 * one typed in).
 */
export class MoveAssetBody
  extends Widget
  implements Dialog.IBodyWidget<IMoveAssetValue>
{
  /**
   * @param category - where the asset is now
   * @param folder - its folder now ('' for the category's top)
   * @param foldersOf - the existing folders of a category
   */
  constructor(
    category: CategoryKey,
    folder: string,
    foldersOf: (category: CategoryKey) => string[]
  ) {
    super();
    this.addClass('gms-Dialog');
    this.node.dataset.testid = 'gms-move-asset-dialog';
    this._foldersOf = foldersOf;
    this._category.className = 'jp-mod-styled';
    this._category.dataset.testid = 'gms-move-category';
    for (const key of CATEGORY_KEYS) {
      const option = document.createElement('option');
      option.value = key;
      option.textContent = CATEGORY_LABELS[key];
      this._category.append(option);
    }
    this._category.value = category;
    this._folder.className = 'jp-mod-styled';
    this._folder.dataset.testid = 'gms-move-folder';
    this._folder.placeholder = '(the top of the category)';
    this._folder.value = folder;
    const listId = `gms-folders-${folderLists.next++}`;
    this._folders.id = listId;
    this._folder.setAttribute('list', listId);
    this._category.addEventListener('change', () => this._fillFolders());
    this._fillFolders();
    this.node.append(
      labelled('Category', this._category),
      labelled(
        'Folder',
        this._folder,
        'Pick a folder or type a new one (folder/sub-folder); blank for the top.'
      ),
      this._folders
    );
  }

  /** The category and folder chosen. */
  getValue(): IMoveAssetValue {
    return {
      category: this._category.value as CategoryKey,
      folder: this._folder.value.trim().replace(/^\/+|\/+$/g, '')
    };
  }

  private _fillFolders(): void {
    this._folders.replaceChildren(
      ...this._foldersOf(this._category.value as CategoryKey).map(name => {
        const option = document.createElement('option');
        option.value = name;
        return option;
      })
    );
  }

  private _foldersOf: (category: CategoryKey) => string[];
  private _category = document.createElement('select');
  private _folder = document.createElement('input');
  private _folders = document.createElement('datalist');
}

/** Makes the ids of the folder lists unique. */
const folderLists = { next: 0 };
