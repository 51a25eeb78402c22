/**
 * The Studio's Scene tab: the storyboard of a scene, the selected shot's takes as a strip (a
 * double-click opens one full size), and two takes compared.
 */
import { runIcon } from '@jupyterlab/ui-components';
import { CommandRegistry } from '@lumino/commands';
import React, { useEffect, useState } from 'react';

import { findNode, shownTake, takeLabel } from '../hierarchy';
import { studioIcon } from '../icons';
import type { StudioModel } from '../model';
import { CommandIDs } from '../tokens';
import type { IScene, ITaskRecord } from '../types';
import { Compare } from './compare';
import { useSignals } from './hooks';
import { TakePicture } from './media';
import { formatSeconds, Storyboard } from './storyboard';

/** A scene: its storyboard, the selected shot's takes, and two of them compared. */
export function SceneTab(props: {
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
          {noChapter ? 'Add Chapter' : 'Add Scene'}
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
        <button
          className="jp-mod-styled gms-mod-withIcon"
          data-testid="gms-generate-scene"
          title="Queue one take for every shot of the scene, each from its own prompt"
          disabled={!model.health.state.reachable || scene.shots.length === 0}
          onClick={() =>
            void commands.execute(CommandIDs.generateScene, {
              nodeId: scene.id
            })
          }
        >
          <runIcon.react tag="span" />
          Generate All Shots
        </button>
      </div>
      <Storyboard
        model={model}
        commands={commands}
        scene={scene}
        selectedShot={shot?.id ?? null}
        busyShots={busyShots}
      />
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
              Generate Take
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
                    title={`${takeLabel(shot, take)} — ${take.pipeline}${
                      take.status === 'completed'
                        ? ' (double-click: full size)'
                        : ''
                    }`}
                    onDoubleClick={() =>
                      take.status === 'completed' &&
                      void commands.execute(CommandIDs.viewTake, {
                        nodeId: take.id
                      })
                    }
                    onKeyDown={event => {
                      if (
                        event.key === 'Enter' &&
                        take.status === 'completed'
                      ) {
                        void commands.execute(CommandIDs.viewTake, {
                          nodeId: take.id
                        });
                      }
                    }}
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
                    {take.status === 'error' || take.status === 'cancelled' ? (
                      <button
                        className="gms-TakeThumb-dismiss jp-Button jp-mod-minimal"
                        title="Dismiss (to the trash)"
                        aria-label={`Dismiss ${takeLabel(shot, take)}`}
                        data-testid="gms-take-dismiss"
                        onClick={event => {
                          event.stopPropagation();
                          void commands.execute(CommandIDs.dismissTake, {
                            nodeId: take.id
                          });
                        }}
                      >
                        ✕
                      </button>
                    ) : null}
                  </li>
                );
              })}
            </ul>
          )}
          {compared.length > 0 ? (
            <Compare
              model={model}
              commands={commands}
              shot={shot}
              takes={compared}
            />
          ) : null}
          {compare.length < 2 && shot.takes.length > 1 ? (
            <p className="gms-Hint">
              Click a second take to compare the two; double-click a take to see
              it full size.
            </p>
          ) : null}
        </div>
      ) : null}
    </div>
  );
}
