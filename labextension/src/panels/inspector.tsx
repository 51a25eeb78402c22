/**
 * The Inspector: what is selected, in detail; a project, chapter, scene or shot as a form (see
 * `editForm.tsx`), a take, an asset or an export as facts with their actions.
 */
import { ReactWidget, Toolbar } from '@jupyterlab/ui-components';
import { CommandRegistry } from '@lumino/commands';
import { ReadonlyPartialJSONObject } from '@lumino/coreutils';
import React from 'react';

import { displayPath, findNode, takeLabel } from '../hierarchy';
import { iconForKind, inspectorPanelIcon } from '../icons';
import type { StudioModel } from '../model';
import { formatBytes } from '../model';
import { CommandIDs, WidgetIDs } from '../tokens';
import {
  CATEGORY_LABELS,
  IProject,
  STATUS_LABELS,
  exportLabel
} from '../types';
import { EditForm } from './editForm';
import { ExportActions, ExportDetails, exportSource } from './exports';
import { useSignals } from './hooks';
import { formatPropertyValue } from './inspectorForm';
import { TakePicture } from './media';
import { StatusBanner } from './statusBanner';

export * from './inspectorForm';

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
          ★ The Shot's Selected Take
        </span>
      ) : null}
      <dl className="gms-Info">
        <dt>Take</dt>
        <dd>{takeLabel(shot, take)}</dd>
        <dt>Shot</dt>
        <dd>{shot.name}</dd>
        <dt>Status</dt>
        <dd data-testid="gms-take-status" data-status={take.status}>
          {STATUS_LABELS[take.status] ?? take.status}
        </dd>
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
            <dd className="gms-Info-path" title={take.file}>
              {displayPath(project, take.file)}
            </dd>
          </>
        ) : null}
        {take.error ? (
          <>
            <dt>Why</dt>
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
            Select This Take
          </button>
        )}
        {take.status === 'completed' ? (
          <button
            className="jp-mod-styled"
            data-testid="gms-inspector-view-take"
            onClick={() =>
              void commands.execute(CommandIDs.viewTake, { nodeId: take.id })
            }
          >
            View Full Size
          </button>
        ) : null}
        {take.status === 'error' || take.status === 'cancelled' ? (
          <button
            className="jp-mod-styled"
            data-testid="gms-inspector-dismiss-take"
            onClick={() =>
              void commands.execute(CommandIDs.dismissTake, { nodeId: take.id })
            }
          >
            Dismiss
          </button>
        ) : null}
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
          Generate Again…
        </button>
      </div>
    </div>
  );
}

/** Read-only details of an asset. */
function AssetDetails(props: {
  model: StudioModel;
  commands: CommandRegistry;
  path: string;
}): React.ReactElement {
  const { model, commands, path } = props;
  const asset = model.assets.byPath(path);
  if (!asset) {
    return (
      <div className="gms-Empty">This asset is no longer in the library.</div>
    );
  }
  const picture =
    asset.thumbnail ?? (asset.kind === 'image' ? asset.url : null);
  const action = (command: string, label: string): React.ReactElement => (
    <button
      className="jp-mod-styled"
      data-command={command}
      onClick={() => void commands.execute(command, { path: asset.path })}
    >
      {label}
    </button>
  );
  return (
    <div className="gms-Details" data-testid="gms-asset-details">
      {picture ? (
        <div className="gms-Details-picture">
          <img
            className="gms-Media"
            src={model.resolveUrl(picture)}
            alt={asset.name}
            draggable={false}
          />
        </div>
      ) : null}
      <AssetFacts asset={asset} />
      <div className="gms-Form-actions gms-mod-stacked">
        {action(CommandIDs.previewAsset, 'Preview Asset')}
        {action(CommandIDs.renameAsset, 'Rename…')}
        {action(CommandIDs.moveAsset, 'Move Asset…')}
        {action(CommandIDs.deleteAsset, 'Move to Trash…')}
      </div>
    </div>
  );
}

/** What is known of an asset: its name, place, kind and size. */
function AssetFacts(props: {
  asset: NonNullable<ReturnType<StudioModel['assets']['byPath']>>;
}): React.ReactElement {
  const { asset } = props;
  return (
    <dl className="gms-Info">
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
      model.assets.changed,
      model.exports.changed
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
    body = (
      <AssetDetails model={model} commands={commands} path={selection.id} />
    );
  } else if (selection.kind === 'export') {
    kind = 'Export';
    const item = model.exports.byPath(selection.id);
    name = item
      ? `${exportLabel(item.kind)} of ${exportSource(item)}`
      : selection.id;
    body = (
      <ExportDetails model={model} commands={commands} path={selection.id} />
    );
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
    this.title.label = 'Inspector';
    this.title.caption =
      'The selected project, chapter, scene, shot, take or asset';
  }

  /** The section's title-bar buttons (none: its actions are in its body). */
  readonly toolbar = new Toolbar();

  protected render(): React.ReactElement {
    return <InspectorView model={this.model} commands={this.commands} />;
  }
}
