/**
 * Commands about takes beyond generating one: generate every shot of a scene, look at a take
 * full size, dismiss a failed take, clear the Recent list; and the Generate dialog they share.
 */
import { JupyterFrontEnd } from '@jupyterlab/application';
import { Dialog, Notification, showDialog } from '@jupyterlab/apputils';
import { clearIcon, closeIcon, runIcon } from '@jupyterlab/ui-components';
import { ReadonlyPartialJSONObject } from '@lumino/coreutils';

import {
  GenerateBody,
  IGenerateValue,
  IShotDefaults,
  takePipelines
} from './dialogs';
import { findNode, sceneOf } from './hierarchy';
import type { StudioModel } from './model';
import { CommandIDs } from './tokens';
import { isFinished } from './types';

/** What the Generate dialog is opened for. */
export interface IGenerationRequest {
  /** The dialog's title. */
  title: string;
  /** The shot whose fields are the defaults (none for a scene). */
  shot?: IShotDefaults | null;
  /** For a scene: how many shots get a take each. */
  batch?: { shots: number } | null;
  /** The pipeline and parameters to start from. */
  initial?: Partial<IGenerateValue>;
}

/**
 * Ask which pipeline and parameters to generate with; null when the user cancels.
 *
 * The registry and the model library are read each time the dialog opens: a model copied into
 * the library meanwhile is offered at once.
 */
export async function askGeneration(
  model: StudioModel,
  request: IGenerationRequest
): Promise<IGenerateValue | null> {
  const [, models] = await Promise.all([
    model.tasks.loadPipelines().catch(() => undefined),
    model.tasks.loadModels().catch(() => null)
  ]);
  // Workflow templates (ComfyUI) are read the same way: an export saved meanwhile shows.
  const templates = await model.tasks.loadTemplates().catch(() => ({}));
  if (takePipelines(model.tasks.pipelines).length === 0) {
    Notification.error(
      'No pipeline is available: check the server and the worker'
    );
    return null;
  }
  let initial = request.initial ?? {};
  for (;;) {
    const body = new GenerateBody(model.tasks.pipelines, {
      initial,
      quality: model.projects.current?.quality,
      models,
      templates,
      shot: request.shot ?? null,
      batch: request.batch ?? null
    });
    const result = await showDialog({
      title: request.title,
      body,
      buttons: [
        Dialog.cancelButton(),
        Dialog.okButton({ label: request.batch ? 'Generate All' : 'Generate' })
      ]
    });
    if (!result.button.accept) {
      return null;
    }
    const error = body.validate();
    if (!error) {
      return body.getValue();
    }
    initial = body.getValue();
    Notification.warning(error);
  }
}

/** The scene a command acts on: its `nodeId` argument or the selection (or their scene). */
function targetScene(
  model: StudioModel,
  args: ReadonlyPartialJSONObject
): string | null {
  const id =
    typeof args.nodeId === 'string'
      ? args.nodeId
      : (model.selection.current?.id ?? null);
  const project = model.projects.current;
  const node = id ? findNode(project, id) : null;
  return node?.scene ? node.scene.id : (sceneOf(project, id)?.id ?? null);
}

/** The take a command acts on: its `nodeId` argument or the selected take. */
function targetTake(
  model: StudioModel,
  args: ReadonlyPartialJSONObject
): string | null {
  const id =
    typeof args.nodeId === 'string'
      ? args.nodeId
      : (model.selection.current?.id ?? null);
  return findNode(model.projects.current, id ?? '')?.kind === 'take'
    ? id
    : null;
}

/** What the take-commands need besides the model. */
export interface ITakeCommandContext {
  /** Open (or reveal) the full-size viewer on a take. */
  viewTake: (takeId: string) => void;
}

/**
 * Register the scene, viewer, dismiss and Recent commands.
 */
export function registerTakeCommands(
  app: JupyterFrontEnd,
  model: StudioModel,
  context: ITakeCommandContext
): void {
  const { commands } = app;
  const ignore = (): undefined => undefined;

  commands.addCommand(CommandIDs.generateScene, {
    label: args => {
      const scene = findNode(
        model.projects.current,
        targetScene(model, args) ?? ''
      )?.scene;
      return scene && !args.isPalette
        ? `Generate All ${scene.shots.length} Shots…`
        : 'Generate All Shots of the Scene…';
    },
    caption:
      'Queue one take for every shot of the scene, each from its own prompt',
    icon: args => (args.isPalette ? undefined : runIcon),
    isEnabled: args => {
      const scene = findNode(
        model.projects.current,
        targetScene(model, args) ?? ''
      )?.scene;
      return !!scene && scene.shots.length > 0;
    },
    execute: async args => {
      const sceneId = targetScene(model, args);
      const scene = sceneId
        ? findNode(model.projects.current, sceneId)?.scene
        : null;
      if (!sceneId || !scene || scene.shots.length === 0) {
        Notification.warning('Select a scene with shots to generate');
        return;
      }
      const choice = await askGeneration(model, {
        title: `Generate All Shots of ${scene.name}`,
        batch: { shots: scene.shots.length },
        initial: model.memory.generationOf(sceneId) ?? undefined
      });
      if (!choice) {
        return;
      }
      model.memory.rememberGeneration(sceneId, choice);
      await model.tasks
        .generateScene(sceneId, choice.pipeline, choice.parameters)
        .catch(ignore);
    }
  });

  commands.addCommand(CommandIDs.viewTake, {
    label: 'View Take Full Size',
    caption: 'Open the take full size, with zoom, pan and its details',
    isEnabled: args => targetTake(model, args) !== null,
    execute: args => {
      const takeId = targetTake(model, args);
      if (takeId) {
        context.viewTake(takeId);
      }
    }
  });

  commands.addCommand(CommandIDs.dismissTake, {
    label: 'Dismiss Take',
    caption: 'Move the failed or cancelled take to the trash',
    icon: args => (args.isPalette ? undefined : closeIcon),
    isEnabled: args => {
      const take = findNode(
        model.projects.current,
        targetTake(model, args) ?? ''
      )?.take;
      return !!take && (take.status === 'error' || take.status === 'cancelled');
    },
    execute: async args => {
      const takeId = targetTake(model, args);
      if (!takeId) {
        return;
      }
      const node = findNode(model.projects.current, takeId);
      const trashId = await model.projects.deleteNode(takeId).catch(ignore);
      if (trashId) {
        Notification.info(
          `${node?.name ?? 'The take'} of ${node?.shot?.name ?? 'the shot'} dismissed.`,
          {
            autoClose: 6000,
            actions: [
              {
                label: 'Undo',
                callback: () =>
                  void commands.execute(CommandIDs.restoreFromTrash, {
                    id: trashId
                  })
              }
            ]
          }
        );
      }
    }
  });

  commands.addCommand(CommandIDs.clearRecent, {
    label: 'Clear Recent Tasks',
    caption:
      'Clear the finished tasks from the Progress panel (their takes stay)',
    icon: args => (args.isPalette ? undefined : clearIcon),
    isEnabled: () =>
      [...model.tasks.all.values()].some(task => isFinished(task.status)),
    execute: () => model.tasks.clearFinished()
  });

  // what these commands can do changes with the project and its tasks
  const refresh = (): void => commands.notifyCommandChanged();
  model.tasks.changed.connect(refresh);
  model.projects.currentChanged.connect(refresh);
}
