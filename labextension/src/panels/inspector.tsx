/**
 * The Inspector: a form for the selected item, built from its kind. Edits are validated, saved
 * with `If-Match`, and a stale version ends in a conflict notice (Reload / Overwrite), never in a
 * silent overwrite.
 */
import { HTMLSelect, ReactWidget } from '@jupyterlab/ui-components';
import { CommandRegistry } from '@lumino/commands';
import { ReadonlyPartialJSONObject } from '@lumino/coreutils';
import React, { useEffect, useState } from 'react';

import { StudioAPIError } from '../api';
import { findNode, takeLabel } from '../hierarchy';
import { iconForKind, inspectorPanelIcon } from '../icons';
import type { ISelection, StudioModel } from '../model';
import { formatBytes } from '../model';
import { CommandIDs, WidgetIDs } from '../tokens';
import {
  CATEGORY_LABELS,
  INodePatch,
  IProject,
  IProjectPatch,
  JSONRecord,
  QUALITIES,
  QUALITY_LABELS,
  Quality,
  SelectionKind
} from '../types';
import { ExportActions } from './exports';
import { useSignals } from './hooks';
import { TakePicture } from './mainView';
import { StatusBanner } from './statusBanner';

/** One editable field of a form. */
export interface IFieldSpec {
  key: string;
  label: string;
  type: 'text' | 'number' | 'integer' | 'select';
  options?: readonly string[];
  /** Inclusive bounds, except `above`, which the value must exceed. */
  min?: number;
  max?: number;
  above?: number;
  maxLength?: number;
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
  if (spec.type === 'text') {
    if (!text) {
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
      fields: { name: node.shot.name, duration: String(node.shot.duration) },
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

interface IFormProps {
  model: StudioModel;
  project: IProject;
  selection: ISelection;
}

/** The editable form of a project, chapter, scene or shot. */
function EditForm(props: IFormProps): React.ReactElement | null {
  const { model, project, selection } = props;
  const base = draftOf(project, selection);
  // `origin` is the item as it was when editing started, at `version`; the user's edits are the
  // difference between it and `draft`, whatever the server has done since.
  const [origin, setOrigin] = useState<IDraft | null>(base);
  const [draft, setDraft] = useState<IDraft | null>(base);
  const [version, setVersion] = useState(project.version);
  const [saving, setSaving] = useState(false);
  const [conflict, setConflict] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [saved, setSaved] = useState(false);
  const edits = origin && draft ? patchOf(selection.kind, origin, draft) : null;
  const dirty = edits !== null;

  /** Start over from the item as the model has it now. */
  const restart = (): void => {
    const latest = model.projects.current;
    const fresh = latest ? draftOf(latest, selection) : null;
    setOrigin(fresh);
    setDraft(fresh);
    setVersion(latest?.version ?? version);
    setConflict(false);
    setError(null);
  };

  // While nothing is edited, follow the server; once edited, keep the user's draft.
  useEffect(() => {
    if (!dirty && !saving) {
      restart();
    }
  }, [project.version]);

  if (!base || !draft || !origin) {
    return null;
  }
  const specs = FORM_FIELDS[selection.kind] ?? [];
  const errors: { [key: string]: string | null } = {};
  for (const spec of specs) {
    errors[spec.key] = validateField(spec, draft.fields[spec.key] ?? '');
  }
  const propertiesError =
    selection.kind === 'shot' ? validateProperties(draft.properties) : null;
  const valid =
    Object.values(errors).every(e => e === null) && propertiesError === null;

  /** Send the user's edits (only those) with `If-Match: ifMatch`. */
  const save = async (ifMatch: number): Promise<void> => {
    if (!edits) {
      return;
    }
    setSaving(true);
    setError(null);
    try {
      if (selection.kind === 'project') {
        await model.projects.save(edits as IProjectPatch, ifMatch);
      } else {
        await model.projects.patchNode(
          selection.id,
          edits as INodePatch,
          ifMatch
        );
      }
      restart();
      setSaved(true);
    } catch (caught) {
      if (caught instanceof StudioAPIError && caught.isConflict) {
        setConflict(true);
      } else {
        setError((caught as Error).message);
      }
    } finally {
      setSaving(false);
    }
  };

  const reload = async (): Promise<void> => {
    await model.projects.refresh().catch(() => undefined);
    restart();
  };

  const overwrite = async (): Promise<void> => {
    // The user chose to apply their edits over the server's version: save against the latest.
    await model.projects.refresh().catch(() => undefined);
    await save(model.projects.current?.version ?? version);
  };

  const setField = (key: string, value: string): void => {
    setSaved(false);
    setDraft({ ...draft, fields: { ...draft.fields, [key]: value } });
  };
  const setRow = (index: number, row: IPropertyRow): void =>
    setDraft({
      ...draft,
      properties: draft.properties.map((candidate, i) =>
        i === index ? row : candidate
      )
    });

  return (
    <form
      className="gms-Form"
      data-testid="gms-inspector-form"
      data-kind={selection.kind}
      onSubmit={event => {
        event.preventDefault();
        if (valid && dirty && !saving) {
          void save(version);
        }
      }}
    >
      {conflict ? (
        <div className="gms-Conflict" role="alert" data-testid="gms-conflict">
          <p>
            This {selection.kind} was changed on the server since you started
            editing. Reload to see the latest version (your edits are
            discarded), or overwrite it with your edits.
          </p>
          <div className="gms-Conflict-actions">
            <button
              type="button"
              className="jp-mod-styled"
              data-testid="gms-conflict-reload"
              onClick={() => void reload()}
            >
              Reload
            </button>
            <button
              type="button"
              className="jp-mod-styled jp-mod-warn"
              data-testid="gms-conflict-overwrite"
              onClick={() => void overwrite()}
            >
              Overwrite
            </button>
          </div>
        </div>
      ) : null}
      {specs.map(spec => {
        const id = `gms-field-${spec.key}`;
        const value = draft.fields[spec.key] ?? '';
        const fieldError = errors[spec.key];
        return (
          <div
            key={spec.key}
            className={'gms-Field' + (fieldError ? ' gms-mod-invalid' : '')}
          >
            <label htmlFor={id}>{spec.label}</label>
            {spec.type === 'select' ? (
              <HTMLSelect
                id={id}
                className="gms-Select"
                data-testid={`gms-field-${spec.key}`}
                value={value}
                onChange={event =>
                  setField(spec.key, event.currentTarget.value)
                }
              >
                {spec.options?.map(option => (
                  <option key={option} value={option}>
                    {QUALITY_LABELS[option as Quality] ?? option}
                  </option>
                ))}
              </HTMLSelect>
            ) : (
              <input
                id={id}
                className="jp-mod-styled"
                data-testid={`gms-field-${spec.key}`}
                type={spec.type === 'text' ? 'text' : 'number'}
                step={spec.type === 'integer' ? 1 : 'any'}
                value={value}
                aria-invalid={!!fieldError}
                onChange={event =>
                  setField(spec.key, event.currentTarget.value)
                }
              />
            )}
            {fieldError ? (
              <div className="gms-Field-error">{fieldError}</div>
            ) : null}
          </div>
        );
      })}
      {selection.kind === 'shot' ? (
        <fieldset className="gms-Properties" data-testid="gms-properties">
          <legend>Properties</legend>
          {draft.properties.length === 0 ? (
            <div className="gms-Properties-empty">
              Free-form notes for the pipelines: lens, mood, camera move…
            </div>
          ) : null}
          {draft.properties.map((row, index) => (
            <div key={index} className="gms-Properties-row">
              <input
                className="jp-mod-styled"
                placeholder="name"
                aria-label="Property name"
                value={row.key}
                onChange={event =>
                  setRow(index, { ...row, key: event.currentTarget.value })
                }
              />
              <input
                className="jp-mod-styled"
                placeholder="value"
                aria-label="Property value"
                value={row.value}
                onChange={event =>
                  setRow(index, { ...row, value: event.currentTarget.value })
                }
              />
              <button
                type="button"
                className="jp-Button jp-mod-minimal gms-TextButton"
                title="Remove property"
                onClick={() =>
                  setDraft({
                    ...draft,
                    properties: draft.properties.filter((_, i) => i !== index)
                  })
                }
              >
                ✕
              </button>
            </div>
          ))}
          <button
            type="button"
            className="jp-Button jp-mod-minimal gms-TextButton gms-Properties-add"
            data-testid="gms-add-property"
            onClick={() =>
              setDraft({
                ...draft,
                properties: [...draft.properties, { key: '', value: '' }]
              })
            }
          >
            + Add property
          </button>
          {propertiesError ? (
            <div className="gms-Field-error">{propertiesError}</div>
          ) : null}
        </fieldset>
      ) : null}
      {error ? (
        <div className="gms-Field-error" role="alert">
          {error}
        </div>
      ) : null}
      <div className="gms-Form-actions">
        <span
          className="gms-Form-status"
          role="status"
          data-testid="gms-inspector-status"
          data-state={
            saving ? 'saving' : dirty ? 'edited' : saved ? 'saved' : ''
          }
        >
          {saving
            ? 'Saving…'
            : dirty
              ? 'Unsaved changes'
              : saved
                ? '✓ Saved'
                : ''}
        </span>
        <button
          type="button"
          className="jp-mod-styled"
          disabled={!dirty || saving}
          data-testid="gms-inspector-revert"
          onClick={restart}
        >
          Revert
        </button>
        <button
          type="submit"
          className="jp-mod-styled jp-mod-accept"
          disabled={!dirty || !valid || saving || conflict}
          data-testid="gms-inspector-save"
        >
          {saving ? 'Saving…' : 'Save'}
        </button>
      </div>
    </form>
  );
}

/** Read-only details of a take, with the action to make it the shot's take. */
function TakeDetails(props: {
  model: StudioModel;
  commands: CommandRegistry;
  project: IProject;
  takeId: string;
}): React.ReactElement | null {
  const { model, commands, project, takeId } = props;
  const node = findNode(project, takeId);
  if (!node?.take || !node.shot) {
    return null;
  }
  const { take, shot } = node;
  const chosen = shot.selectedTake === take.id;
  return (
    <div className="gms-Details" data-testid="gms-take-details">
      <div className="gms-Details-picture">
        <TakePicture
          model={model}
          take={take}
          label={takeLabel(shot, take)}
          compact
        />
      </div>
      {chosen ? (
        <span
          className="gms-Badge gms-mod-chosen"
          data-testid="gms-inspector-chosen"
        >
          ★ The shot's selected take
        </span>
      ) : null}
      <dl className="gms-Info">
        <dt>Take</dt>
        <dd>{takeLabel(shot, take)}</dd>
        <dt>Shot</dt>
        <dd>{shot.name}</dd>
        <dt>Status</dt>
        <dd data-testid="gms-take-status">{take.status}</dd>
        <dt>Pipeline</dt>
        <dd>{take.pipeline}</dd>
        {take.tier ? (
          <>
            <dt>Tier</dt>
            <dd>{take.tier}</dd>
          </>
        ) : null}
        <dt>Seed</dt>
        <dd>{take.seed ?? '—'}</dd>
        <dt>Created</dt>
        <dd>{new Date(take.created).toLocaleString()}</dd>
        {take.file ? (
          <>
            <dt>File</dt>
            <dd className="gms-Info-path">{take.file}</dd>
          </>
        ) : null}
        {take.error ? (
          <>
            <dt>Error</dt>
            <dd className="gms-Field-error">{take.error}</dd>
          </>
        ) : null}
      </dl>
      <h4>Parameters</h4>
      <dl className="gms-Info" data-testid="gms-take-parameters">
        {Object.entries(take.parameters ?? {}).map(([key, value]) => (
          <React.Fragment key={key}>
            <dt>{key}</dt>
            <dd>{formatPropertyValue(value)}</dd>
          </React.Fragment>
        ))}
      </dl>
      <div className="gms-Form-actions gms-mod-stacked">
        {chosen ? null : (
          <button
            className="jp-mod-styled jp-mod-accept"
            data-testid="gms-inspector-select-take"
            disabled={take.status !== 'completed'}
            onClick={() =>
              void model.projects
                .selectTake(shot.id, take.id)
                .catch(() => undefined)
            }
          >
            Select this take
          </button>
        )}
        <button
          className="jp-mod-styled"
          onClick={() =>
            void commands.execute(CommandIDs.generateTake, {
              nodeId: shot.id,
              pipeline: take.pipeline,
              parameters: take.parameters as ReadonlyPartialJSONObject
            })
          }
        >
          Generate again
        </button>
      </div>
    </div>
  );
}

/** Read-only details of an asset. */
function AssetDetails(props: {
  model: StudioModel;
  path: string;
}): React.ReactElement {
  const { model, path } = props;
  const asset = model.assets.byPath(path);
  if (!asset) {
    return (
      <div className="gms-Empty">This asset is no longer in the library.</div>
    );
  }
  return (
    <dl className="gms-Info" data-testid="gms-asset-details">
      <dt>Name</dt>
      <dd>{asset.name}</dd>
      <dt>Category</dt>
      <dd>{asset.category ? CATEGORY_LABELS[asset.category] : '—'}</dd>
      <dt>Folder</dt>
      <dd>{asset.folder || '—'}</dd>
      <dt>Kind</dt>
      <dd>{asset.kind}</dd>
      <dt>Size</dt>
      <dd>{formatBytes(asset.size)}</dd>
      <dt>Modified</dt>
      <dd>{new Date(asset.modified).toLocaleString()}</dd>
      <dt>Path</dt>
      <dd className="gms-Info-path">{asset.path}</dd>
    </dl>
  );
}

function InspectorView(props: {
  model: StudioModel;
  commands: CommandRegistry;
}): React.ReactElement {
  const { model, commands } = props;
  const { project, selection } = useSignals(
    [
      model.projects.currentChanged,
      model.selection.changed,
      model.assets.changed
    ],
    () => ({
      project: model.projects.current,
      selection: model.selection.current
    })
  );
  let body: React.ReactElement;
  let kind = '';
  let name = '';
  if (!project || !selection) {
    body = (
      <div className="gms-Empty">
        Select a project, a node or an asset to inspect it.
      </div>
    );
  } else if (selection.kind === 'asset') {
    kind = 'Asset';
    name = model.assets.byPath(selection.id)?.name ?? selection.id;
    body = <AssetDetails model={model} path={selection.id} />;
  } else if (selection.kind === 'take') {
    kind = 'Take';
    const node = findNode(project, selection.id);
    name =
      node?.shot && node.take
        ? `${takeLabel(node.shot, node.take)} of ${node.shot.name}`
        : '';
    body = (
      <TakeDetails
        model={model}
        commands={commands}
        project={project}
        takeId={selection.id}
      />
    );
  } else {
    const node =
      selection.kind === 'project' ? null : findNode(project, selection.id);
    kind = selection.kind[0].toUpperCase() + selection.kind.slice(1);
    name = selection.kind === 'project' ? project.name : (node?.name ?? '');
    body =
      selection.kind === 'project' || node ? (
        // A new key resets the form when another item is selected.
        <EditForm
          key={`${selection.kind}:${selection.id}`}
          model={model}
          project={project}
          selection={selection}
        />
      ) : (
        <div className="gms-Empty">This item no longer exists.</div>
      );
  }
  const Icon = selection && kind ? iconForKind(selection.kind) : null;
  // the film, a chapter or a scene goes to an editor from here as from its context menu
  const exportable =
    project !== null &&
    (selection?.kind === 'project' ||
      ((selection?.kind === 'chapter' || selection?.kind === 'scene') &&
        findNode(project, selection.id) !== null));
  return (
    <div className="gms-Panel">
      <div className="gms-Panel-header">
        <inspectorPanelIcon.react tag="span" className="gms-Panel-headerIcon" />
        <span className="gms-Panel-title">Inspector</span>
      </div>
      <StatusBanner model={model} showConnection={false} />
      {Icon ? (
        <div className="gms-Subject">
          <Icon.react tag="span" className="gms-Subject-icon" />
          <div className="gms-Subject-text">
            <span
              className="gms-Subject-kind"
              data-testid="gms-inspector-title"
            >
              {kind}
            </span>
            <span className="gms-Subject-name" title={name}>
              {name}
            </span>
          </div>
        </div>
      ) : null}
      <div className="gms-Panel-body">
        {body}
        {exportable ? (
          <ExportActions
            commands={commands}
            nodeId={selection?.id ?? ''}
            scopeName={name}
          />
        ) : null}
      </div>
    </div>
  );
}

/**
 * The Inspector side panel.
 */
export class Inspector extends ReactWidget {
  /**
   * @param model - the studio model
   * @param commands - the application's commands (generate again)
   */
  constructor(
    private readonly model: StudioModel,
    private readonly commands: CommandRegistry
  ) {
    super();
    this.id = WidgetIDs.inspector;
    this.addClass('gms-Inspector');
    this.node.dataset.testid = 'gms-inspector';
    this.title.icon = inspectorPanelIcon;
    this.title.caption = 'Studio Inspector';
  }

  protected render(): React.ReactElement {
    return <InspectorView model={this.model} commands={this.commands} />;
  }
}
