/**
 * The Inspector's editable form of a project, chapter, scene or shot.
 *
 * Like JupyterLab's property inspector, an edit is saved when the field is left (blur) or with
 * Enter (Ctrl/Cmd+Enter in a text area), with `If-Match`; Escape reverts. An edit still pending
 * when another item is selected is saved then, or, when it cannot be (invalid), the user is told
 * it was not: nothing is lost without a word. A stale version ends in a conflict notice (Reload
 * / Overwrite), never in a silent overwrite.
 */
import { HTMLSelect } from '@jupyterlab/ui-components';
import React, { useEffect, useRef, useState } from 'react';

import { StudioAPIError } from '../api';
import { findNode } from '../hierarchy';
import type { ISelection, StudioModel } from '../model';
import {
  INodePatch,
  IProject,
  IProjectPatch,
  QUALITY_DESCRIPTIONS,
  QUALITY_LABELS,
  Quality
} from '../types';
import {
  FORM_FIELDS,
  IDraft,
  IFieldSpec,
  IPropertyRow,
  draftOf,
  patchOf,
  validateField,
  validateProperties
} from './inspectorForm';
import { ReferenceList } from './references';

/** Props of the form. */
export interface IEditFormProps {
  model: StudioModel;
  project: IProject;
  selection: ISelection;
}

/** What a pending edit needs to be saved after the form is gone. */
interface IPending {
  edits: IProjectPatch | INodePatch | null;
  valid: boolean;
  version: number;
  error: string | null;
}

/** The editable form of a project, chapter, scene or shot. */
export function EditForm(props: IEditFormProps): React.ReactElement | null {
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

  const specs = FORM_FIELDS[selection.kind] ?? [];
  const errors: { [key: string]: string | null } = {};
  for (const spec of specs) {
    errors[spec.key] = draft
      ? validateField(spec, draft.fields[spec.key] ?? '')
      : null;
  }
  const propertiesError =
    selection.kind === 'shot' && draft
      ? validateProperties(draft.properties)
      : null;
  const firstError =
    Object.values(errors).find(e => e !== null) ?? propertiesError;
  const valid = !firstError;

  // What is pending, for when the form goes away (another item selected, panel closed).
  const pending = useRef<IPending>({ edits, valid, version, error: null });
  pending.current = { edits, valid, version, error: firstError ?? null };
  // A save on its way (leaving the field that was edited is what unselects it): it carries the
  // edits, and says itself if it fails once the form is gone.
  const inFlight = useRef(false);
  const mounted = useRef(true);
  useEffect(
    () => () => {
      mounted.current = false;
      const left = pending.current;
      if (!left.edits || inFlight.current) {
        return;
      }
      const what = describe(model.projects.current, selection);
      if (!left.valid) {
        model.notices.notify({
          type: 'warning',
          message: `Your edit of ${what} was not saved: ${left.error}`
        });
        return;
      }
      void send(model, selection, left.edits, left.version).catch(caught => {
        const conflicted =
          caught instanceof StudioAPIError && caught.isConflict;
        model.notices.notify({
          type: 'warning',
          message: conflicted
            ? `Your edit of ${what} was not saved: it was changed meanwhile. Select it to edit it again.`
            : `Your edit of ${what} was not saved: ${(caught as Error).message}`
        });
      });
    },
    []
  );

  if (!base || !draft || !origin) {
    return null;
  }

  /** Send the user's edits (only those) with `If-Match: ifMatch`. */
  const save = async (ifMatch: number): Promise<void> => {
    if (!edits) {
      return;
    }
    setSaving(true);
    setError(null);
    inFlight.current = true;
    try {
      await send(model, selection, edits, ifMatch);
      if (mounted.current) {
        restart();
        setSaved(true);
      }
    } catch (caught) {
      const conflicted = caught instanceof StudioAPIError && caught.isConflict;
      if (!mounted.current) {
        const what = describe(model.projects.current, selection);
        model.notices.notify({
          type: 'warning',
          message: conflicted
            ? `Your edit of ${what} was not saved: it was changed meanwhile. Select it to edit it again.`
            : `Your edit of ${what} was not saved: ${(caught as Error).message}`
        });
      } else if (conflicted) {
        setConflict(true);
      } else {
        setError((caught as Error).message);
      }
    } finally {
      inFlight.current = false;
      if (mounted.current) {
        setSaving(false);
      }
    }
  };

  /** Save if there is something valid to save (leaving a field, Enter). */
  const commit = (): void => {
    if (dirty && valid && !saving && !conflict) {
      void save(version);
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
  const onKeyDown = (event: React.KeyboardEvent<HTMLElement>): void => {
    const area = event.currentTarget instanceof HTMLTextAreaElement;
    if (event.key === 'Escape') {
      event.preventDefault();
      restart();
    } else if (
      event.key === 'Enter' &&
      (!area || event.ctrlKey || event.metaKey)
    ) {
      event.preventDefault();
      commit();
    }
  };

  return (
    <form
      className="gms-Form"
      data-testid="gms-inspector-form"
      data-kind={selection.kind}
      onSubmit={event => {
        event.preventDefault();
        commit();
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
      {specs.map(spec => (
        <Field
          key={spec.key}
          spec={spec}
          value={draft.fields[spec.key] ?? ''}
          error={errors[spec.key]}
          onChange={value => setField(spec.key, value)}
          onCommit={commit}
          onKeyDown={onKeyDown}
        />
      ))}
      {selection.kind === 'shot' ? (
        <ReferenceList model={model} shotId={selection.id} />
      ) : null}
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
                onBlur={commit}
                onKeyDown={onKeyDown}
              />
              <input
                className="jp-mod-styled"
                placeholder="value"
                aria-label="Property value"
                value={row.value}
                onChange={event =>
                  setRow(index, { ...row, value: event.currentTarget.value })
                }
                onBlur={commit}
                onKeyDown={onKeyDown}
              />
              <button
                type="button"
                className="jp-Button jp-mod-minimal gms-TextButton"
                title="Remove Property"
                aria-label="Remove property"
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
            + Add Property
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
          title={
            dirty
              ? 'Saved when you leave the field or press Enter; Escape reverts'
              : undefined
          }
        >
          {saving
            ? 'Saving…'
            : dirty
              ? valid
                ? 'Edited: saved when you leave the field'
                : 'Not saved: fix the field'
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

/** One field: its label, its input (text, text area, number or select), its hint or error. */
function Field(props: {
  spec: IFieldSpec;
  value: string;
  error: string | null;
  onChange: (value: string) => void;
  onCommit: () => void;
  onKeyDown: (event: React.KeyboardEvent<HTMLElement>) => void;
}): React.ReactElement {
  const { spec, value, error, onChange, onCommit, onKeyDown } = props;
  const id = `gms-field-${spec.key}`;
  const hint =
    spec.key === 'quality'
      ? QUALITY_DESCRIPTIONS[value as Quality]
      : (spec.hint ?? null);
  const common = {
    id,
    'data-testid': id,
    'aria-invalid': !!error,
    onBlur: onCommit,
    onKeyDown
  };
  return (
    <div className={'gms-Field' + (error ? ' gms-mod-invalid' : '')}>
      <label htmlFor={id}>{spec.label}</label>
      {spec.type === 'select' ? (
        <HTMLSelect
          {...common}
          className="gms-Select"
          value={value}
          onChange={event => onChange(event.currentTarget.value)}
        >
          {spec.options?.map(option => (
            <option key={option} value={option}>
              {QUALITY_LABELS[option as Quality] ?? option}
            </option>
          ))}
        </HTMLSelect>
      ) : spec.type === 'textarea' ? (
        <textarea
          {...common}
          className="jp-mod-styled gms-Field-area"
          rows={3}
          value={value}
          maxLength={spec.maxLength}
          onChange={event => onChange(event.currentTarget.value)}
        />
      ) : (
        <input
          {...common}
          className="jp-mod-styled"
          type={spec.type === 'text' ? 'text' : 'number'}
          step={spec.type === 'integer' ? 1 : 'any'}
          value={value}
          onChange={event => onChange(event.currentTarget.value)}
        />
      )}
      {error ? (
        <div className="gms-Field-error">{error}</div>
      ) : hint ? (
        <div className="gms-Field-hint" data-testid={`${id}-hint`}>
          {hint}
        </div>
      ) : null}
    </div>
  );
}

/** Save a patch of the selected item with `If-Match`. */
function send(
  model: StudioModel,
  selection: ISelection,
  edits: IProjectPatch | INodePatch,
  ifMatch: number
): Promise<void> {
  return selection.kind === 'project'
    ? model.projects.save(edits as IProjectPatch, ifMatch)
    : model.projects.patchNode(selection.id, edits as INodePatch, ifMatch);
}

/** The item as named in a notice ("shot Wide"). */
function describe(project: IProject | null, selection: ISelection): string {
  if (selection.kind === 'project') {
    return `the project ${project?.name ?? ''}`.trim();
  }
  const node = findNode(project, selection.id);
  return node ? `${node.kind} ${node.name}` : `the ${selection.kind}`;
}
