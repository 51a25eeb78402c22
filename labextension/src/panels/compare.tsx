/**
 * Comparing two takes of a shot: side by side, a swipe (one take over the other, revealed up to
 * a line you drag) or an overlay (one over the other, faded), each with its "Select" button.
 */
import { CommandRegistry } from '@lumino/commands';
import React, { useRef, useState } from 'react';

import { mediaKindOf, takeLabel } from '../hierarchy';
import type { StudioModel } from '../model';
import { CommandIDs } from '../tokens';
import type { IShot, ITake } from '../types';
import { TakePicture, takeUrl } from './media';

/** How two takes are compared. */
export type CompareMode = 'side' | 'swipe' | 'overlay';

/** The modes, as the toggle names them. */
export const COMPARE_MODES: { mode: CompareMode; label: string }[] = [
  { mode: 'side', label: 'Side by Side' },
  { mode: 'swipe', label: 'Swipe' },
  { mode: 'overlay', label: 'Overlay' }
];

/** Whether two takes can be laid over each other (both finished images). */
export function canOverlay(takes: readonly ITake[]): boolean {
  return (
    takes.length === 2 &&
    takes.every(
      take =>
        take.status === 'completed' &&
        !!take.file &&
        mediaKindOf(take.file) === 'image'
    )
  );
}

/** A take's caption: its name, pipeline and seed, and the action to choose it. */
function Caption(props: {
  model: StudioModel;
  shot: IShot;
  take: ITake;
  /** Under the swipe or overlay, apart from its figure: it names its take itself. */
  apart?: boolean;
}): React.ReactElement {
  const { model, shot, take, apart } = props;
  return (
    <figcaption data-take-id={apart ? take.id : undefined}>
      <span className="gms-Compare-caption" title={take.pipeline}>
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
          Select This Take
        </button>
      )}
    </figcaption>
  );
}

/** One or two takes, compared in the mode chosen; a double-click opens one full size. */
export function Compare(props: {
  model: StudioModel;
  commands: CommandRegistry;
  shot: IShot;
  takes: readonly ITake[];
}): React.ReactElement {
  const { model, commands, shot, takes } = props;
  const [mode, setMode] = useState<CompareMode>('side');
  const [split, setSplit] = useState(50);
  const stage = useRef<HTMLDivElement>(null);
  const layered = canOverlay(takes) && mode !== 'side';
  const view = (take: ITake): void =>
    void commands.execute(CommandIDs.viewTake, { nodeId: take.id });
  const follow = (event: React.PointerEvent): void => {
    const box = stage.current?.getBoundingClientRect();
    if (box && box.width > 0 && event.buttons === 1) {
      setSplit(
        Math.max(
          0,
          Math.min(100, ((event.clientX - box.left) / box.width) * 100)
        )
      );
    }
  };
  return (
    <div
      className={
        'gms-Compare' +
        (takes.length === 2 ? ' gms-mod-two' : '') +
        (layered ? ` gms-mod-${mode}` : '')
      }
      data-testid="gms-compare"
      data-mode={layered ? mode : 'side'}
    >
      {takes.length === 2 ? (
        <div className="gms-Compare-modes" role="group" aria-label="Compare">
          {COMPARE_MODES.map(({ mode: candidate, label }) => (
            <button
              key={candidate}
              className={
                'jp-mod-styled gms-Compare-mode' +
                (mode === candidate ? ' gms-mod-active' : '')
              }
              aria-pressed={mode === candidate}
              data-testid={`gms-compare-${candidate}`}
              disabled={candidate !== 'side' && !canOverlay(takes)}
              title={
                candidate !== 'side' && !canOverlay(takes)
                  ? 'Both takes must be finished images'
                  : undefined
              }
              onClick={() => setMode(candidate)}
            >
              {label}
            </button>
          ))}
        </div>
      ) : null}
      {layered ? (
        <>
          <div
            ref={stage}
            className="gms-Compare-stage"
            data-testid="gms-compare-stage"
            onPointerDown={event => {
              event.currentTarget.setPointerCapture(event.pointerId);
              if (mode === 'swipe') {
                follow(event);
              }
            }}
            onPointerMove={event => mode === 'swipe' && follow(event)}
            onDoubleClick={() => view(takes[1])}
          >
            <img
              className="gms-Compare-under"
              src={takeUrl(model, takes[0], false) ?? ''}
              alt={takeLabel(shot, takes[0])}
              draggable={false}
            />
            <img
              className="gms-Compare-over"
              data-testid="gms-compare-over"
              src={takeUrl(model, takes[1], false) ?? ''}
              alt={takeLabel(shot, takes[1])}
              draggable={false}
              style={
                mode === 'swipe'
                  ? { clipPath: `inset(0 0 0 ${split}%)` }
                  : { opacity: split / 100 }
              }
            />
            {mode === 'swipe' ? (
              <div
                className="gms-Compare-line"
                style={{ left: `${split}%` }}
                aria-hidden="true"
              />
            ) : null}
            <span className="gms-Compare-tag gms-mod-left">
              {takeLabel(shot, takes[0])}
            </span>
            <span className="gms-Compare-tag gms-mod-right">
              {takeLabel(shot, takes[1])}
            </span>
          </div>
          <input
            type="range"
            className="gms-Compare-slider"
            data-testid="gms-compare-slider"
            min={0}
            max={100}
            value={split}
            aria-label={
              mode === 'swipe'
                ? `Where ${takeLabel(shot, takes[1])} begins`
                : `Opacity of ${takeLabel(shot, takes[1])}`
            }
            onChange={event => setSplit(Number(event.currentTarget.value))}
          />
          <div className="gms-Compare-captions">
            {takes.map(take => (
              <Caption
                key={take.id}
                model={model}
                shot={shot}
                take={take}
                apart
              />
            ))}
          </div>
        </>
      ) : (
        takes.map(take => (
          <figure
            key={take.id}
            className="gms-Compare-item"
            data-take-id={take.id}
            onDoubleClick={() => take.status === 'completed' && view(take)}
            title={
              take.status === 'completed'
                ? 'Double-click to view it full size'
                : undefined
            }
          >
            <TakePicture
              model={model}
              take={take}
              label={takeLabel(shot, take)}
            />
            <Caption model={model} shot={shot} take={take} />
          </figure>
        ))
      )}
    </div>
  );
}
