/**
 * A scene's storyboard: one card per shot, in order. Cards are dragged to reorder the shots (as
 * in the tree), and an asset dropped on a card becomes a reference of that shot.
 */
import { addIcon } from '@jupyterlab/ui-components';
import { CommandRegistry } from '@lumino/commands';
import React, { useRef, useState } from 'react';

import { shownTake } from '../hierarchy';
import type { StudioModel } from '../model';
import { CommandIDs, NODE_MIME } from '../tokens';
import type { IScene, IShot, ITaskRecord } from '../types';
import { TakePicture } from './media';
import { useReferenceDrop } from './references';

/** A length of film in seconds, e.g. `4.5s` or `1:05`. */
export function formatSeconds(seconds: number): string {
  if (seconds < 60) {
    return `${Math.round(seconds * 10) / 10}s`;
  }
  const whole = Math.round(seconds);
  return `${Math.floor(whole / 60)}:${String(whole % 60).padStart(2, '0')}`;
}

/**
 * Where a shot dragged from `from` and dropped before (`after` false) or after the card at
 * `to` ends up, as an index once it has left its place; null when it does not move.
 */
export function reorderIndex(
  from: number,
  to: number,
  after: boolean
): number | null {
  let index = after ? to + 1 : to;
  if (from < index) {
    index -= 1;
  }
  return index === from ? null : index;
}

/** Where a dragged card would land on the card under the pointer. */
interface ICardDrop {
  shotId: string;
  after: boolean;
}

function ShotCard(props: {
  model: StudioModel;
  shot: IShot;
  index: number;
  selected: boolean;
  busy: ITaskRecord | null;
  dropHere: ICardDrop | null;
  dragging: React.MutableRefObject<number | null>;
  onCardOver: (drop: ICardDrop | null) => void;
  onCardDrop: (drop: ICardDrop) => void;
}): React.ReactElement {
  const { model, shot, index, selected, busy, dropHere, dragging } = props;
  const take = shownTake(shot);
  const reference = useReferenceDrop(model, shot.id);
  const references = shot.references ?? [];
  const side = (event: React.DragEvent): boolean => {
    const box = event.currentTarget.getBoundingClientRect();
    return event.clientX - box.left > box.width / 2;
  };
  return (
    <li
      className={
        'gms-ShotCard' +
        (selected ? ' gms-mod-selected' : '') +
        (busy ? ' gms-mod-busy' : '') +
        (reference.over ? ' gms-mod-dropReference' : '') +
        (dropHere ? ` gms-mod-drop-${dropHere.after ? 'after' : 'before'}` : '')
      }
      data-testid="gms-shot-card"
      data-node-id={shot.id}
      tabIndex={0}
      draggable
      title={`${shot.name} — drag to reorder; drop assets on it to add references`}
      onClick={() => model.selection.select({ kind: 'shot', id: shot.id })}
      onKeyDown={event => {
        if (event.key === 'Enter') {
          model.selection.select({ kind: 'shot', id: shot.id });
        }
      }}
      onDragStart={event => {
        dragging.current = index;
        event.dataTransfer.setData(
          NODE_MIME,
          JSON.stringify({ id: shot.id, kind: 'shot' })
        );
        event.dataTransfer.effectAllowed = 'move';
      }}
      onDragEnd={() => {
        dragging.current = null;
        props.onCardOver(null);
      }}
      onDragOver={event => {
        reference.onDragOver(event);
        if (
          dragging.current !== null &&
          event.dataTransfer.types.includes(NODE_MIME)
        ) {
          event.preventDefault();
          event.dataTransfer.dropEffect = 'move';
          props.onCardOver({ shotId: shot.id, after: side(event) });
        }
      }}
      onDragLeave={reference.onDragLeave}
      onDrop={event => {
        reference.onDrop(event);
        if (
          dragging.current !== null &&
          event.dataTransfer.types.includes(NODE_MIME)
        ) {
          event.preventDefault();
          props.onCardDrop({ shotId: shot.id, after: side(event) });
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
        {reference.over ? (
          <div className="gms-ShotCard-dropHint">Add as Reference</div>
        ) : null}
      </div>
      <div className="gms-ShotCard-caption">
        <span className="gms-ShotCard-name" title={shot.name}>
          {shot.name}
        </span>
        <span className="gms-ShotCard-meta">
          {formatSeconds(shot.duration)} · {shot.takes.length} take
          {shot.takes.length === 1 ? '' : 's'}
          {references.length ? (
            <span
              className="gms-ShotCard-references"
              data-testid="gms-shot-references"
              title={references.map(path => path.split('/').pop()).join(', ')}
            >
              {' '}
              · {references.length} reference
              {references.length === 1 ? '' : 's'}
            </span>
          ) : null}
        </span>
      </div>
    </li>
  );
}

/** The storyboard of a scene. */
export function Storyboard(props: {
  model: StudioModel;
  commands: CommandRegistry;
  scene: IScene;
  selectedShot: string | null;
  busyShots: ReadonlyMap<string, ITaskRecord>;
}): React.ReactElement {
  const { model, commands, scene, selectedShot, busyShots } = props;
  const dragging = useRef<number | null>(null);
  const [over, setOver] = useState<ICardDrop | null>(null);
  const drop = (target: ICardDrop): void => {
    const from = dragging.current;
    dragging.current = null;
    setOver(null);
    const to = scene.shots.findIndex(shot => shot.id === target.shotId);
    if (from === null || to < 0) {
      return;
    }
    const index = reorderIndex(from, to, target.after);
    if (index !== null) {
      void model.projects
        .moveNode(scene.shots[from].id, scene.id, index)
        .catch(() => undefined);
    }
  };
  return (
    <ul
      className="gms-Storyboard"
      data-testid="gms-storyboard"
      aria-label="Storyboard"
    >
      {scene.shots.map((shot, index) => (
        <ShotCard
          key={shot.id}
          model={model}
          shot={shot}
          index={index}
          selected={shot.id === selectedShot}
          busy={busyShots.get(shot.id) ?? null}
          dropHere={over?.shotId === shot.id ? over : null}
          dragging={dragging}
          onCardOver={next =>
            setOver(current =>
              current?.shotId === next?.shotId && current?.after === next?.after
                ? current
                : next
            )
          }
          onCardDrop={drop}
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
          Add Shot
        </button>
      </li>
    </ul>
  );
}
