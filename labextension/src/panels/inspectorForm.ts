/**
 * The Inspector's forms as data: the editable fields of each kind of item, their checks, the
 * draft an item starts from and the patch that saves only what the user changed.
 */
import { findNode } from '../hierarchy';
import type { ISelection } from '../model';
import {
  INodePatch,
  IProject,
  IProjectPatch,
  JSONRecord,
  QUALITIES,
  SelectionKind
} from '../types';

/** One editable field of a form. */
export interface IFieldSpec {
  key: string;
  label: string;
  type: 'text' | 'textarea' | 'number' | 'integer' | 'select';
  options?: readonly string[];
  /** Inclusive bounds, except `above`, which the value must exceed. */
  min?: number;
  max?: number;
  above?: number;
  maxLength?: number;
  /** May be left empty. */
  optional?: boolean;
  /** A line under the field saying what it is for. */
  hint?: string;
}

/** The editable fields of each editable kind. */
export const FORM_FIELDS: { readonly [kind: string]: readonly IFieldSpec[] } = {
  project: [
    { key: 'name', label: 'Name', type: 'text', maxLength: 120 },
    { key: 'quality', label: 'Quality', type: 'select', options: QUALITIES },
    {
      key: 'fps',
      label: 'Frames per second',
      type: 'number',
      above: 0,
      max: 240
    },
    { key: 'width', label: 'Width (px)', type: 'integer', min: 16, max: 16384 },
    {
      key: 'height',
      label: 'Height (px)',
      type: 'integer',
      min: 16,
      max: 16384
    }
  ],
  chapter: [{ key: 'name', label: 'Name', type: 'text', maxLength: 200 }],
  scene: [{ key: 'name', label: 'Name', type: 'text', maxLength: 200 }],
  shot: [
    { key: 'name', label: 'Name', type: 'text', maxLength: 200 },
    {
      key: 'duration',
      label: 'Duration (s)',
      type: 'number',
      above: 0,
      max: 3600
    },
    {
      key: 'prompt',
      label: 'Prompt',
      type: 'textarea',
      maxLength: 4000,
      optional: true,
      hint: 'What its takes show: the Generate dialog starts from it.'
    },
    {
      key: 'negativePrompt',
      label: 'Negative prompt',
      type: 'textarea',
      maxLength: 4000,
      optional: true,
      hint: 'What its takes should not show.'
    },
    {
      key: 'style',
      label: 'Style',
      type: 'text',
      maxLength: 1000,
      optional: true,
      hint: 'Added to the prompt, e.g. "35mm film, dusk light".'
    }
  ]
};

/** A key/value row of a shot's properties, as typed. */
export interface IPropertyRow {
  key: string;
  value: string;
}

/** The form's values, as strings (what the inputs hold), plus the shot's property rows. */
export interface IDraft {
  fields: { [key: string]: string };
  properties: IPropertyRow[];
}

/**
 * Why `value` is not valid for `spec`, or null when it is.
 */
export function validateField(spec: IFieldSpec, value: string): string | null {
  const text = value.trim();
  if (spec.type === 'text' || spec.type === 'textarea') {
    if (!text && !spec.optional) {
      return `${spec.label} is required`;
    }
    if (spec.maxLength !== undefined && text.length > spec.maxLength) {
      return `At most ${spec.maxLength} characters`;
    }
    return null;
  }
  if (spec.type === 'select') {
    return spec.options?.includes(text)
      ? null
      : `Choose one of ${spec.options?.join(', ')}`;
  }
  if (!text) {
    return `${spec.label} is required`;
  }
  const number = Number(text);
  if (!Number.isFinite(number)) {
    return 'Enter a number';
  }
  if (spec.type === 'integer' && !Number.isInteger(number)) {
    return 'Enter a whole number';
  }
  if (spec.above !== undefined && number <= spec.above) {
    return `Must be more than ${spec.above}`;
  }
  if (spec.min !== undefined && number < spec.min) {
    return `Must be at least ${spec.min}`;
  }
  if (spec.max !== undefined && number > spec.max) {
    return `Must be at most ${spec.max}`;
  }
  return null;
}

/** Why the property rows are not valid (empty or repeated keys), or null. */
export function validateProperties(
  rows: readonly IPropertyRow[]
): string | null {
  const seen = new Set<string>();
  for (const row of rows) {
    const key = row.key.trim();
    if (!key) {
      return 'Every property needs a name';
    }
    if (seen.has(key)) {
      return `Property "${key}" appears twice`;
    }
    seen.add(key);
  }
  return null;
}

/** A property value as typed: JSON literals (numbers, booleans, null, arrays, objects) or text. */
export function parsePropertyValue(text: string): unknown {
  const trimmed = text.trim();
  if (
    /^(-?\d+(\.\d+)?([eE][-+]?\d+)?|true|false|null|\[.*\]|\{.*\})$/s.test(
      trimmed
    )
  ) {
    try {
      return JSON.parse(trimmed);
    } catch {
      return text;
    }
  }
  return text;
}

/** A property value as shown in its input. */
export function formatPropertyValue(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/** The draft that matches the item as the server has it. */
export function draftOf(
  project: IProject,
  selection: ISelection
): IDraft | null {
  if (selection.kind === 'project') {
    return {
      fields: {
        name: project.name,
        quality: project.quality,
        fps: String(project.settings.fps),
        width: String(project.settings.resolution.width),
        height: String(project.settings.resolution.height)
      },
      properties: []
    };
  }
  const node = findNode(project, selection.id);
  if (!node) {
    return null;
  }
  if (node.kind === 'shot' && node.shot) {
    return {
      fields: {
        name: node.shot.name,
        duration: String(node.shot.duration),
        prompt: node.shot.prompt ?? '',
        negativePrompt: node.shot.negativePrompt ?? '',
        style: node.shot.style ?? ''
      },
      properties: Object.entries(node.shot.properties ?? {}).map(
        ([key, value]) => ({
          key,
          value: formatPropertyValue(value)
        })
      )
    };
  }
  return { fields: { name: node.name }, properties: [] };
}

/** The patch that turns `base` into `draft` (only what changed); null when nothing did. */
export function patchOf(
  kind: SelectionKind,
  base: IDraft,
  draft: IDraft
): IProjectPatch | INodePatch | null {
  const changed = (key: string): boolean =>
    draft.fields[key] !== undefined &&
    draft.fields[key].trim() !== base.fields[key]?.trim();
  if (kind === 'project') {
    const patch: IProjectPatch = {};
    if (changed('name')) {
      patch.name = draft.fields.name.trim();
    }
    if (changed('quality')) {
      patch.quality = draft.fields.quality as IProjectPatch['quality'];
    }
    if (changed('fps') || changed('width') || changed('height')) {
      // Settings are replaced as a whole.
      patch.settings = {
        fps: Number(draft.fields.fps),
        resolution: {
          width: Number(draft.fields.width),
          height: Number(draft.fields.height)
        }
      };
    }
    return Object.keys(patch).length ? patch : null;
  }
  const patch: INodePatch = {};
  if (changed('name')) {
    patch.name = draft.fields.name.trim();
  }
  if (kind === 'shot') {
    if (changed('duration')) {
      patch.duration = Number(draft.fields.duration);
    }
    for (const key of ['prompt', 'negativePrompt', 'style'] as const) {
      if (changed(key)) {
        patch[key] = draft.fields[key].trim();
      }
    }
    const properties: JSONRecord = {};
    for (const row of draft.properties) {
      properties[row.key.trim()] = parsePropertyValue(row.value);
    }
    const before: JSONRecord = {};
    for (const row of base.properties) {
      before[row.key.trim()] = parsePropertyValue(row.value);
    }
    if (JSON.stringify(properties) !== JSON.stringify(before)) {
      patch.properties = properties;
    }
  }
  return Object.keys(patch).length ? patch : null;
}
