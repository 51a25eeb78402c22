/**
 * The Studio main view: a scene's shots as a storyboard, the selected shot's takes as a strip, two
 * takes side by side to compare and choose; and a preview of the selected asset.
 */
import { addIcon, ReactWidget, runIcon } from '@jupyterlab/ui-components';
import { CommandRegistry } from '@lumino/commands';
import React, { useEffect, useState } from 'react';

import {
  findNode,
  firstScene,
  mediaKindOf,
  sceneOf,
  shownTake,
  takeLabel
} from '../hierarchy';
import { studioIcon } from '../icons';
import type { StudioModel } from '../model';
import { formatBytes } from '../model';
import { CommandIDs } from '../tokens';
import { CATEGORY_LABELS } from '../types';
import type { IScene, IShot, ITake, ITaskRecord, MediaKind } from '../types';
import { ExportTab } from './exports';
import { useSignals } from './hooks';
import { StatusBanner } from './statusBanner';

/** A length of film in seconds, e.g. `4.5s` or `1:05`. */
export function formatSeconds(seconds: number): string {
  if (seconds < 60) {
    return `${Math.round(seconds * 10) / 10}s`;
  }
  const whole = Math.round(seconds);
  return `${Math.floor(whole / 60)}:${String(whole % 60).padStart(2, '0')}`;
}

/** The two tabs of the main view. */
export type StudioTab = 'scene' | 'asset' | 'export';

/** A media element for a URL: image, video or audio; null for other kinds. */
export function Media(props: {
  url: string;
  kind: MediaKind;
  label: string;
  /** Small previews (storyboard, strip) show a still frame without controls. */
  compact?: boolean;
}): React.ReactElement | null {
  const { url, kind, label, compact } = props;
  switch (kind) {
    case 'image':
      return (
        <img className="gms-Media" src={url} alt={label} draggable={false} />
      );
    case 'video':
      return compact ? (
        <video
          className="gms-Media"
          src={url}
          muted
          preload="metadata"
          aria-label={label}
        />
      ) : (
        <video
          className="gms-Media"
          src={url}
          controls
          loop
          preload="metadata"
          aria-label={label}
        />
      );
    case 'audio':
      return compact ? null : (
        <audio
          className="gms-Media"
          src={url}
          controls
          preload="metadata"
          aria-label={label}
        />
      );
    default:
      return null;
  }
}

/** The URL of a take's picture: its thumbnail when it has one, else its file. */
function takeUrl(
  model: StudioModel,
  take: ITake,
  preferThumbnail: boolean
): string | null {
  const path = preferThumbnail && take.thumbnail ? take.thumbnail : take.file;
  if (!path) {
    return null;
  }
  return /^(gms\/|\/|[a-z]+:)/i.test(path)
    ? model.resolveUrl(path)
    : model.fileUrl(path);
}

/**
 * The URL of a running task's latest preview (a project file under `05_Cache/previews/`), or
 * null while the pipeline has sent none (or the task has ended: its take replaces it).
 */
export function previewUrl(
  model: StudioModel,
  task: ITaskRecord | null
): string | null {
  if (!task?.preview || task.status === 'completed') {
    return null;
  }
  return model.fileUrl(task.preview) || null;
}

/** A take on its way: the pipeline's latest preview, its progress and step. */
function Generating(props: {
  model: StudioModel;
  task: ITaskRecord | null;
}): React.ReactElement {
  const { model, task } = props;
  const percent = task ? Math.round(task.progress * 100) : 0;
  const preview = previewUrl(model, task);
  return (
    <div
      className={
        'gms-Placeholder gms-mod-generating' +
        (preview ? ' gms-mod-withPreview' : '')
      }
      data-testid="gms-generating"
    >
      {preview ? (
        <img
          className="gms-Generating-preview"
          data-testid="gms-take-preview"
          src={preview}
          alt={`Preview: ${task?.step ?? ''}`}
          title={task?.step ?? undefined}
          draggable={false}
        />
      ) : null}
      <span className="gms-Placeholder-label">
        Generating{task ? ` ${percent}%` : '…'}
      </span>
      <progress
        className="gms-ProgressBar"
        max={1}
        value={task?.progress ?? 0}
        aria-label="Generation progress"
      />
      {task?.step && task.status === 'running' ? (
        // the pipeline's own words: "KSampler 12/20", "denoising 7/20"
        <span
          className="gms-Generating-step"
          data-testid="gms-take-step"
          title={task.step}
        >
          {task.step}
        </span>
      ) : null}
    </div>
  );
}

/** A take's picture: its image or video, or where it stands while it has none. */
export function TakePicture(props: {
  model: StudioModel;
  take: ITake | null;
  label: string;
  compact?: boolean;
  /** The task generating the shot's first take, shown while there is no take yet. */
  busy?: ITaskRecord | null;
}): React.ReactElement {
  const { model, take, label, compact, busy } = props;
  if (!take) {
    return busy ? (
      <Generating model={model} task={busy} />
    ) : (
      <div className="gms-Placeholder">No take yet</div>
    );
  }
  if (take.status !== 'completed' || !take.file) {
    const task = take.taskId ? model.tasks.get(take.taskId) : undefined;
    return take.status === 'generating' ? (
      <Generating model={model} task={task ?? null} />
    ) : (
      <div className={`gms-Placeholder gms-mod-${take.status}`}>
        {take.error ?? take.status}
      </div>
    );
  }
  const usesThumbnail = compact && !!take.thumbnail;
  const url = takeUrl(model, take, !!compact)!;
  const kind = usesThumbnail ? 'image' : mediaKindOf(take.file);
  return <Media url={url} kind={kind} label={label} compact={compact} />;
}

function ShotCard(props: {
  model: StudioModel;
  shot: IShot;
  selected: boolean;
  busy: ITaskRecord | null;
}): React.ReactElement {
  const { model, shot, selected, busy } = props;
  const take = shownTake(shot);
  return (
    <li
      className={
        'gms-ShotCard' +
        (selected ? ' gms-mod-selected' : '') +
        (busy ? ' gms-mod-busy' : '')
      }
      data-testid="gms-shot-card"
      data-node-id={shot.id}
      tabIndex={0}
      onClick={() => model.selection.select({ kind: 'shot', id: shot.id })}
      onKeyDown={event => {
        if (event.key === 'Enter') {
          model.selection.select({ kind: 'shot', id: shot.id });
        }
      }}
    >
      <div className="gms-ShotCard-picture">
        <TakePicture
          model={model}
          take={take}
          label={shot.name}
          compact
          busy={busy}
        />
      </div>
      <div className="gms-ShotCard-caption">
        <span className="gms-ShotCard-name">{shot.name}</span>
        <span className="gms-ShotCard-meta">
          {formatSeconds(shot.duration)} · {shot.takes.length} take
          {shot.takes.length === 1 ? '' : 's'}
        </span>
      </div>
    </li>
  );
}

function SceneTab(props: {
  model: StudioModel;
  commands: CommandRegistry;
  scene: IScene | null;
}): React.ReactElement {
  const { model, commands, scene } = props;
  const { selection, project, tasks } = useSignals(
    [
      model.selection.changed,
      model.projects.currentChanged,
      model.tasks.changed
    ],
    () => ({
      selection: model.selection.current,
      project: model.projects.current,
      tasks: model.tasks.all
    })
  );
  const located = selection ? findNode(project, selection.id) : null;
  const shot =
    located?.shot && scene?.shots.some(s => s.id === located.shot!.id)
      ? located.shot
      : (scene?.shots[0] ?? null);
  const [compare, setCompare] = useState<string[]>([]);

  // A new shot starts the comparison from its selected take.
  useEffect(() => {
    const start = shot ? shownTake(shot) : null;
    setCompare(start ? [start.id] : []);
  }, [shot?.id]);

  // Selecting a take (here, in the tree or from a notification) brings it into the comparison.
  useEffect(() => {
    if (selection?.kind === 'take' && located?.shot?.id === shot?.id) {
      setCompare(current =>
        current.includes(selection.id)
          ? current
          : [...current, selection.id].slice(-2)
      );
    }
  }, [selection?.id]);

  if (!scene) {
    const noChapter = (project?.chapters.length ?? 0) === 0;
    return (
      <div className="gms-Empty gms-mod-large" data-testid="gms-no-scene">
        <studioIcon.react tag="span" className="gms-Empty-icon" />
        <p className="gms-Empty-title">
          {noChapter ? 'An empty film' : 'No scene yet'}
        </p>
        <p>
          {noChapter
            ? 'Start with a chapter, then add its scenes and shots: they show here as a storyboard.'
            : 'Add a scene to this chapter; its shots show here as a storyboard.'}
        </p>
        <button
          className="jp-mod-styled jp-mod-accept"
          onClick={() =>
            void commands.execute(
              noChapter ? CommandIDs.addChapter : CommandIDs.addScene
            )
          }
        >
          {noChapter ? 'Add a chapter' : 'Add a scene'}
        </button>
      </div>
    );
  }
  const busyShots = new Map<string, ITaskRecord>();
  for (const task of tasks.values()) {
    if (task.status === 'pending' || task.status === 'running') {
      busyShots.set(task.nodeId, task);
    }
  }
  // With nothing picked to compare, the shot's own take is shown large.
  const shown = shot ? shownTake(shot) : null;
  const picked = (shot?.takes ?? []).filter(take => compare.includes(take.id));
  const compared = picked.length > 0 ? picked : shown ? [shown] : [];
  return (
    <div className="gms-SceneTab">
      <div className="gms-SceneTab-header">
        <div>
          <div className="gms-SceneTab-context">
            {findNode(project, scene.id)?.chapter.name ?? ''}
          </div>
          <h2 className="gms-SceneTab-title">{scene.name}</h2>
        </div>
        <span className="gms-SceneTab-meta">
          {scene.shots.length} shot{scene.shots.length === 1 ? '' : 's'} ·{' '}
          {formatSeconds(
            scene.shots.reduce((total, s) => total + (s.duration || 0), 0)
          )}
        </span>
      </div>
      <ul
        className="gms-Storyboard"
        data-testid="gms-storyboard"
        aria-label="Storyboard"
      >
        {scene.shots.map(candidate => (
          <ShotCard
            key={candidate.id}
            model={model}
            shot={candidate}
            selected={candidate.id === shot?.id}
            busy={busyShots.get(candidate.id) ?? null}
          />
        ))}
        <li className="gms-ShotCard gms-mod-add">
          <button
            className="gms-ShotCard-addButton"
            data-testid="gms-add-shot"
            title="Add a shot to this scene"
            onClick={() =>
              void commands.execute(CommandIDs.addShot, { parentId: scene.id })
            }
          >
            <addIcon.react tag="span" />
            Add shot
          </button>
        </li>
      </ul>
      {shot ? (
        <div className="gms-ShotDetail">
          <div className="gms-ShotDetail-header">
            <h3>
              {shot.name}
              <span className="gms-ShotDetail-meta">
                {formatSeconds(shot.duration)} · {shot.takes.length} take
                {shot.takes.length === 1 ? '' : 's'}
              </span>
            </h3>
            <button
              className="jp-mod-styled jp-mod-accept gms-mod-withIcon"
              data-testid="gms-generate-take"
              disabled={!model.health.state.reachable}
              onClick={() =>
                void commands.execute(CommandIDs.generateTake, {
                  nodeId: shot.id
                })
              }
            >
              <runIcon.react tag="span" />
              Generate take
            </button>
          </div>
          {shot.takes.length === 0 ? (
            <div className="gms-Empty">No takes yet: generate one.</div>
          ) : (
            <ul
              className="gms-TakeStrip"
              data-testid="gms-take-strip"
              aria-label="Takes"
            >
              {shot.takes.map(take => {
                const inCompare = compare.includes(take.id);
                return (
                  <li
                    key={take.id}
                    className={
                      'gms-TakeThumb' +
                      (inCompare ? ' gms-mod-compared' : '') +
                      (shot.selectedTake === take.id ? ' gms-mod-chosen' : '')
                    }
                    data-testid="gms-take"
                    data-take-id={take.id}
                    data-status={take.status}
                    tabIndex={0}
                    title={`${takeLabel(shot, take)} — ${take.pipeline}`}
                    onClick={() => {
                      setCompare(current =>
                        current.includes(take.id)
                          ? current.filter(id => id !== take.id)
                          : [...current, take.id].slice(-2)
                      );
                      model.selection.select({ kind: 'take', id: take.id });
                    }}
                  >
                    <TakePicture
                      model={model}
                      take={take}
                      label={takeLabel(shot, take)}
                      compact
                    />
                    <span className="gms-TakeThumb-label">
                      {takeLabel(shot, take)}
                      {shot.selectedTake === take.id ? ' ★' : ''}
                    </span>
                  </li>
                );
              })}
            </ul>
          )}
          {compared.length > 0 ? (
            <div
              className={
                'gms-Compare' + (compared.length === 2 ? ' gms-mod-two' : '')
              }
              data-testid="gms-compare"
            >
              {compared.map(take => (
                <figure
                  key={take.id}
                  className="gms-Compare-item"
                  data-take-id={take.id}
                >
                  <TakePicture
                    model={model}
                    take={take}
                    label={takeLabel(shot, take)}
                  />
                  <figcaption>
                    <span>
                      {takeLabel(shot, take)} · {take.pipeline}
                      {take.seed !== null ? ` · seed ${take.seed}` : ''}
                    </span>
                    {shot.selectedTake === take.id ? (
                      <span className="gms-Badge gms-mod-chosen">Selected</span>
                    ) : (
                      <button
                        className="jp-mod-styled jp-mod-accept"
                        data-testid="gms-select-take"
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
                  </figcaption>
                </figure>
              ))}
            </div>
          ) : null}
          {compare.length < 2 && shot.takes.length > 1 ? (
            <p className="gms-Hint">
              Click a second take to compare them side by side.
            </p>
          ) : null}
        </div>
      ) : null}
    </div>
  );
}

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
