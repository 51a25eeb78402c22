/**
 * The Studio main view: a scene's shots as a storyboard, the selected shot's takes as a strip, two
 * takes side by side to compare and choose; and a preview of the selected asset.
 */
import { ReactWidget } from '@jupyterlab/ui-components';
import { CommandRegistry } from '@lumino/commands';
import React, { useEffect, useState } from 'react';

import { findNode, firstScene, sceneOf } from '../hierarchy';
import { studioIcon } from '../icons';
import type { StudioModel } from '../model';
import { formatBytes } from '../model';
import { CATEGORY_LABELS } from '../types';
import { ExportTab } from './exports';
import { useSignals } from './hooks';
import { SceneTab } from './sceneTab';
import { Media } from './media';
import { StatusBanner } from './statusBanner';

export { formatSeconds } from './storyboard';
export { Media, TakePicture, previewUrl, takeUrl } from './media';

/** The two tabs of the main view. */
export type StudioTab = 'scene' | 'asset' | 'export';

function AssetTab(props: { model: StudioModel }): React.ReactElement {
  const { model } = props;
  const { selection } = useSignals(
    [model.selection.changed, model.assets.changed],
    () => ({
      selection: model.selection.current
    })
  );
  const asset =
    selection?.kind === 'asset' ? model.assets.byPath(selection.id) : null;
  if (!asset) {
    return (
      <div
        className="gms-Empty"
        data-testid="gms-asset-preview"
        data-empty="true"
      >
        Open an asset from the Asset Browser to preview it here.
      </div>
    );
  }
  const url = model.resolveUrl(asset.url);
  return (
    <div
      className="gms-AssetPreview"
      data-testid="gms-asset-preview"
      data-path={asset.path}
    >
      <div className="gms-AssetPreview-media">
        <Media url={url} kind={asset.kind} label={asset.name} />
        {asset.kind !== 'image' &&
        asset.kind !== 'video' &&
        asset.kind !== 'audio' ? (
          <a href={url} target="_blank" rel="noreferrer">
            Download {asset.name}
          </a>
        ) : null}
      </div>
      <dl className="gms-Info">
        <dt>Name</dt>
        <dd>{asset.name}</dd>
        <dt>Category</dt>
        <dd>{asset.category ? CATEGORY_LABELS[asset.category] : '—'}</dd>
        <dt>Kind</dt>
        <dd>{asset.kind}</dd>
        <dt>Size</dt>
        <dd>{formatBytes(asset.size)}</dd>
        <dt>Path</dt>
        <dd>{asset.path}</dd>
      </dl>
    </div>
  );
}

function StudioViewComponent(props: {
  model: StudioModel;
  commands: CommandRegistry;
}): React.ReactElement {
  const { model, commands } = props;
  const { project, selection } = useSignals(
    [model.projects.currentChanged, model.selection.changed],
    () => ({
      project: model.projects.current,
      selection: model.selection.current
    })
  );
  const [tab, setTab] = useState<StudioTab>(
    selection?.kind === 'asset'
      ? 'asset'
      : selection?.kind === 'export'
        ? 'export'
        : 'scene'
  );
  const [sceneId, setSceneId] = useState<string | null>(null);

  useEffect(() => {
    if (selection?.kind === 'asset') {
      setTab('asset');
    } else if (selection?.kind === 'export') {
      setTab('export');
    } else if (selection && selection.kind !== 'project') {
      setTab('scene');
      const scene = sceneOf(project, selection.id);
      if (scene) {
        setSceneId(scene.id);
      }
    }
  }, [selection?.kind, selection?.id]);

  const scene =
    (sceneId ? findNode(project, sceneId)?.scene : null) ??
    sceneOf(project, selection?.id ?? null) ??
    firstScene(project);

  return (
    <div className="gms-Studio">
      <StatusBanner model={model} />
      <div className="gms-Tabs" role="tablist">
        <button
          role="tab"
          aria-selected={tab === 'scene'}
          className={'gms-Tab' + (tab === 'scene' ? ' gms-mod-active' : '')}
          data-testid="gms-tab-scene"
          onClick={() => setTab('scene')}
        >
          Scene
        </button>
        <button
          role="tab"
          aria-selected={tab === 'asset'}
          className={'gms-Tab' + (tab === 'asset' ? ' gms-mod-active' : '')}
          data-testid="gms-tab-asset"
          onClick={() => setTab('asset')}
        >
          Asset
        </button>
        <button
          role="tab"
          aria-selected={tab === 'export'}
          className={'gms-Tab' + (tab === 'export' ? ' gms-mod-active' : '')}
          data-testid="gms-tab-export"
          onClick={() => setTab('export')}
        >
          Export
        </button>
        <span className="gms-Tabs-context">{project?.name ?? ''}</span>
      </div>
      <div className="gms-TabPanel" role="tabpanel">
        {!project ? (
          <div className="gms-Empty">
            Open a project in the Project Browser.
          </div>
        ) : tab === 'scene' ? (
          <SceneTab model={model} commands={commands} scene={scene} />
        ) : tab === 'export' ? (
          <ExportTab model={model} />
        ) : (
          <AssetTab model={model} />
        )}
      </div>
    </div>
  );
}

/**
 * The content of the Studio main-area widget.
 */
export class StudioView extends ReactWidget {
  /**
   * @param model - the studio model
   * @param commands - the application's commands (generate, add shot)
   */
  constructor(
    private readonly model: StudioModel,
    private readonly commands: CommandRegistry
  ) {
    super();
    this.addClass('gms-StudioView');
    this.node.dataset.testid = 'gms-studio';
    this.title.icon = studioIcon;
    this.title.label = 'Studio';
  }

  protected render(): React.ReactElement {
    return <StudioViewComponent model={this.model} commands={this.commands} />;
  }
}
