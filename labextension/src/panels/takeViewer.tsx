/**
 * The take viewer: one take full size in the main area, with zoom (wheel, buttons, + - 0 1) and
 * pan (drag), the arrow keys going through the shot's takes, and what the take is made of beside
 * it (status, pipeline, seed, prompt, references, parameters).
 */
import { ReactWidget } from '@jupyterlab/ui-components';
import { CommandRegistry } from '@lumino/commands';
import { ISignal, Signal } from '@lumino/signaling';
import React, { useEffect, useRef, useState } from 'react';

import { displayPath, findNode, mediaKindOf, takeLabel } from '../hierarchy';
import { takeIcon } from '../icons';
import type { StudioModel } from '../model';
import { CommandIDs } from '../tokens';
import { STATUS_LABELS } from '../types';
import type { IProject, ITake } from '../types';
import { useSignals } from './hooks';
import { Media, TakePicture, takeUrl } from './media';

/** Zoom limits of the viewer (1 = the picture's own pixels). */
export const ZOOM = { min: 0.05, max: 16, step: 1.25 };

/** A zoom level kept within `ZOOM`. */
export function clampZoom(zoom: number): number {
  return Math.min(ZOOM.max, Math.max(ZOOM.min, zoom));
}

/**
 * The offset that keeps the point under the pointer where it is when the zoom changes.
 *
 * @param offset - the picture's offset from the stage's centre before
 * @param at - the pointer, relative to the stage's centre
 */
export function zoomAround(
  offset: { x: number; y: number },
  at: { x: number; y: number },
  from: number,
  to: number
): { x: number; y: number } {
  const ratio = to / from;
  return {
    x: at.x - (at.x - offset.x) * ratio,
    y: at.y - (at.y - offset.y) * ratio
  };
}

/** The take `step` places away from `takeId` in its shot (wrapping around), or null. */
export function neighbourTake(
  project: IProject | null,
  takeId: string,
  step: number
): string | null {
  const node = findNode(project, takeId);
  const takes = node?.shot?.takes ?? [];
  const index = takes.findIndex(take => take.id === takeId);
  if (index < 0 || takes.length < 2) {
    return null;
  }
  return takes[(index + step + takes.length) % takes.length].id;
}

/** What the take was made from, read from its parameters (as the sidecar records them). */
function TakeFacts(props: {
  model: StudioModel;
  commands: CommandRegistry;
  project: IProject;
  take: ITake;
}): React.ReactElement {
  const { model, commands, project, take } = props;
  const node = findNode(project, take.id)!;
  const shot = node.shot!;
  const parameters = take.parameters ?? {};
  const text = (key: string): string | null =>
    typeof parameters[key] === 'string' && parameters[key]
      ? (parameters[key] as string)
      : null;
  const chosen = shot.selectedTake === take.id;
  return (
    <aside className="gms-Viewer-facts" data-testid="gms-viewer-facts">
      <h3 className="gms-Viewer-title" title={shot.name}>
        {takeLabel(shot, take)} <span>of {shot.name}</span>
      </h3>
      {chosen ? (
        <span className="gms-Badge gms-mod-chosen">★ Selected Take</span>
      ) : (
        <button
          className="jp-mod-styled jp-mod-accept"
          data-testid="gms-viewer-select"
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
      <dl className="gms-Info">
        <dt>Status</dt>
        <dd data-testid="gms-viewer-status">
          {STATUS_LABELS[take.status] ?? take.status}
        </dd>
        <dt>Pipeline</dt>
        <dd>
          {take.pipeline}
          {take.tier ? ` · ${take.tier}` : ''}
        </dd>
        <dt>Seed</dt>
        <dd>{take.seed ?? '—'}</dd>
        <dt>Created</dt>
        <dd>{new Date(take.created).toLocaleString()}</dd>
        {text('prompt') ? (
          <>
            <dt>Prompt</dt>
            <dd data-testid="gms-viewer-prompt">{text('prompt')}</dd>
          </>
        ) : null}
        {text('negative_prompt') ? (
          <>
            <dt>Negative</dt>
            <dd>{text('negative_prompt')}</dd>
          </>
        ) : null}
        {text('init_image') ? (
          <>
            <dt>Made from</dt>
            <dd className="gms-Info-path">{text('init_image')}</dd>
          </>
        ) : null}
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
      <details className="gms-Viewer-parameters">
        <summary>All parameters</summary>
        <dl className="gms-Info">
          {Object.entries(parameters).map(([key, value]) => (
            <React.Fragment key={key}>
              <dt>{key}</dt>
              <dd>
                {typeof value === 'string' ? value : JSON.stringify(value)}
              </dd>
            </React.Fragment>
          ))}
        </dl>
      </details>
      <button
        className="jp-mod-styled"
        onClick={() =>
          void commands.execute(CommandIDs.generateTake, {
            nodeId: shot.id,
            pipeline: take.pipeline,
            parameters: take.parameters as never
          })
        }
      >
        Generate Again…
      </button>
    </aside>
  );
}

function ViewerComponent(props: {
  model: StudioModel;
  commands: CommandRegistry;
  viewer: TakeViewer;
}): React.ReactElement {
  const { model, commands, viewer } = props;
  const { project, takeId } = useSignals(
    [model.projects.currentChanged, viewer.takeChanged, model.tasks.changed],
    () => ({ project: model.projects.current, takeId: viewer.takeId })
  );
  // null zoom: fit the picture to the stage
  const [zoom, setZoom] = useState<number | null>(null);
  const [offset, setOffset] = useState({ x: 0, y: 0 });
  const [natural, setNatural] = useState({ width: 0, height: 0 });
  const stage = useRef<HTMLDivElement>(null);
  const drag = useRef<{ x: number; y: number } | null>(null);

  // another take starts fitted
  useEffect(() => {
    setZoom(null);
    setOffset({ x: 0, y: 0 });
  }, [takeId]);

  const node = takeId ? findNode(project, takeId) : null;
  const take = node?.take ?? null;
  if (!project || !take || !node?.shot) {
    return (
      <div className="gms-Empty" data-testid="gms-viewer-empty">
        This take is no longer in the project.
      </div>
    );
  }
  const shot = node.shot;
  const box = stage.current?.getBoundingClientRect();
  const fit =
    natural.width && box
      ? Math.min(box.width / natural.width, box.height / natural.height, 1)
      : 1;
  const scale = zoom ?? fit;
  const go = (step: number): void => {
    const next = neighbourTake(project, take.id, step);
    if (next) {
      viewer.showTake(next);
      model.selection.select({ kind: 'take', id: next });
    }
  };
  const zoomTo = (to: number, at = { x: 0, y: 0 }): void => {
    const next = clampZoom(to);
    setOffset(current => zoomAround(current, at, scale, next));
    setZoom(next);
  };
  const onKey = (event: React.KeyboardEvent): void => {
    const keys: { [key: string]: () => void } = {
      ArrowRight: () => go(1),
      ArrowLeft: () => go(-1),
      '+': () => zoomTo(scale * ZOOM.step),
      '=': () => zoomTo(scale * ZOOM.step),
      '-': () => zoomTo(scale / ZOOM.step),
      '0': () => {
        setZoom(null);
        setOffset({ x: 0, y: 0 });
      },
      '1': () => zoomTo(1)
    };
    const action = keys[event.key];
    if (action) {
      event.preventDefault();
      action();
    }
  };
  const kind = take.file ? mediaKindOf(take.file) : 'other';
  const url = take.status === 'completed' ? takeUrl(model, take, false) : null;
  const index = shot.takes.findIndex(candidate => candidate.id === take.id);
  return (
    <div
      className="gms-Viewer"
      data-testid="gms-viewer"
      data-take-id={take.id}
      tabIndex={0}
      onKeyDown={onKey}
    >
      <div className="gms-Viewer-bar">
        <button
          className="jp-mod-styled"
          title="Previous take (←)"
          aria-label="Previous take"
          data-testid="gms-viewer-previous"
          disabled={shot.takes.length < 2}
          onClick={() => go(-1)}
        >
          ‹
        </button>
        <span className="gms-Viewer-position" data-testid="gms-viewer-position">
          {takeLabel(shot, take)} of {shot.takes.length}
        </span>
        <button
          className="jp-mod-styled"
          title="Next take (→)"
          aria-label="Next take"
          data-testid="gms-viewer-next"
          disabled={shot.takes.length < 2}
          onClick={() => go(1)}
        >
          ›
        </button>
        <span className="gms-Viewer-spacer" />
        <button
          className="jp-mod-styled"
          title="Zoom out (−)"
          aria-label="Zoom out"
          onClick={() => zoomTo(scale / ZOOM.step)}
        >
          −
        </button>
        <span className="gms-Viewer-zoom" data-testid="gms-viewer-zoom">
          {Math.round(scale * 100)}%
        </span>
        <button
          className="jp-mod-styled"
          title="Zoom in (+)"
          aria-label="Zoom in"
          data-testid="gms-viewer-zoom-in"
          onClick={() => zoomTo(scale * ZOOM.step)}
        >
          +
        </button>
        <button
          className="jp-mod-styled"
          title="Fit to the window (0)"
          data-testid="gms-viewer-fit"
          onClick={() => {
            setZoom(null);
            setOffset({ x: 0, y: 0 });
          }}
        >
          Fit
        </button>
        <button
          className="jp-mod-styled"
          title="Actual pixels (1)"
          onClick={() => zoomTo(1)}
        >
          1:1
        </button>
      </div>
      <div className="gms-Viewer-body">
        <div
          ref={stage}
          className={
            'gms-Viewer-stage' + (drag.current ? ' gms-mod-panning' : '')
          }
          data-testid="gms-viewer-stage"
          onWheel={event => {
            if (kind !== 'image' || !stage.current) {
              return;
            }
            const rect = stage.current.getBoundingClientRect();
            const at = {
              x: event.clientX - rect.left - rect.width / 2,
              y: event.clientY - rect.top - rect.height / 2
            };
            zoomTo(
              event.deltaY < 0 ? scale * ZOOM.step : scale / ZOOM.step,
              at
            );
          }}
          onPointerDown={event => {
            if (kind !== 'image') {
              return;
            }
            drag.current = { x: event.clientX, y: event.clientY };
            event.currentTarget.setPointerCapture(event.pointerId);
          }}
          onPointerMove={event => {
            const from = drag.current;
            if (!from) {
              return;
            }
            drag.current = { x: event.clientX, y: event.clientY };
            setOffset(current => ({
              x: current.x + event.clientX - from.x,
              y: current.y + event.clientY - from.y
            }));
          }}
          onPointerUp={() => {
            drag.current = null;
          }}
          onDoubleClick={() => (zoom === null ? zoomTo(1) : setZoom(null))}
        >
          {url && kind === 'image' ? (
            <img
              className="gms-Viewer-image"
              data-testid="gms-viewer-image"
              src={url}
              alt={`${takeLabel(shot, take)} of ${shot.name}`}
              draggable={false}
              onLoad={event =>
                setNatural({
                  width: event.currentTarget.naturalWidth,
                  height: event.currentTarget.naturalHeight
                })
              }
              style={{
                width: natural.width ? natural.width * scale : undefined,
                transform: `translate(${offset.x}px, ${offset.y}px)`
              }}
            />
          ) : url ? (
            <Media url={url} kind={kind} label={takeLabel(shot, take)} />
          ) : (
            <div className="gms-Viewer-placeholder">
              <TakePicture
                model={model}
                take={take}
                label={takeLabel(shot, take)}
              />
            </div>
          )}
        </div>
        <TakeFacts
          model={model}
          commands={commands}
          project={project}
          take={take}
        />
      </div>
      <div className="gms-Viewer-hint">
        ← → the shot's takes ({index + 1}/{shot.takes.length}) · wheel or + − to
        zoom · drag to pan · 0 fits · 1 shows actual pixels
      </div>
    </div>
  );
}

/**
 * The content of the take viewer's main-area widget.
 */
export class TakeViewer extends ReactWidget {
  /**
   * @param model - the studio model
   * @param commands - the application's commands (generate again)
   */
  constructor(
    private readonly model: StudioModel,
    private readonly commands: CommandRegistry
  ) {
    super();
    this.addClass('gms-TakeViewer');
    this.node.dataset.testid = 'gms-take-viewer';
    this.title.icon = takeIcon;
    this.title.label = 'Take';
    this.title.closable = true;
    this.model.projects.currentChanged.connect(this._retitle, this);
  }

  /** Emitted when another take is shown. */
  get takeChanged(): ISignal<this, string | null> {
    return this._takeChanged;
  }

  /** The take shown. */
  get takeId(): string | null {
    return this._takeId;
  }

  /** Show a take (and take the keyboard, for the arrows and the zoom keys). */
  showTake(takeId: string): void {
    if (takeId !== this._takeId) {
      this._takeId = takeId;
      this._takeChanged.emit(takeId);
      this._retitle();
    }
    requestAnimationFrame(() =>
      this.node.querySelector<HTMLElement>('.gms-Viewer')?.focus()
    );
  }

  protected render(): React.ReactElement {
    return (
      <ViewerComponent
        model={this.model}
        commands={this.commands}
        viewer={this}
      />
    );
  }

  private _retitle(): void {
    const node = this._takeId
      ? findNode(this.model.projects.current, this._takeId)
      : null;
    this.title.label =
      node?.shot && node.take
        ? `${takeLabel(node.shot, node.take)} · ${node.shot.name}`
        : 'Take';
  }

  private _takeId: string | null = null;
  private _takeChanged = new Signal<this, string | null>(this);
}
