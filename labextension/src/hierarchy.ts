/**
 * Read-only look-ups in a project's hierarchy (chapter → scene → shot → take), shared by the model
 * and the panels so that no panel walks the manifest its own way.
 */
import type {
  HierarchyKind,
  IChapter,
  IProject,
  IScene,
  IShot,
  ITake,
  MediaKind
} from './types';

/** A node of the hierarchy with where it sits. */
export interface ILocatedNode {
  kind: HierarchyKind;
  id: string;
  name: string;
  /** The id of the parent node; null for a chapter. */
  parentId: string | null;
  /** Position among its siblings. */
  index: number;
  chapter: IChapter;
  scene?: IScene;
  shot?: IShot;
  take?: ITake;
}

/** The kind of node that holds children of `kind` (null for a chapter, held by the project). */
export const PARENT_KIND: {
  readonly [K in HierarchyKind]: HierarchyKind | null;
} = {
  chapter: null,
  scene: 'chapter',
  shot: 'scene',
  take: 'shot'
};

/** The kind of node that `kind` holds (null for a take). */
export const CHILD_KIND: {
  readonly [K in HierarchyKind]: HierarchyKind | null;
} = {
  chapter: 'scene',
  scene: 'shot',
  shot: 'take',
  take: null
};

/** The display name of a take: its position in the shot, e.g. "Take 3". */
export function takeLabel(shot: IShot, take: ITake): string {
  const index = shot.takes.findIndex(candidate => candidate.id === take.id);
  return `Take ${index + 1}`;
}

/** Find a node anywhere in the project. */
export function findNode(
  project: IProject | null,
  id: string
): ILocatedNode | null {
  if (!project) {
    return null;
  }
  for (const [ci, chapter] of project.chapters.entries()) {
    if (chapter.id === id) {
      return {
        kind: 'chapter',
        id,
        name: chapter.name,
        parentId: null,
        index: ci,
        chapter
      };
    }
    for (const [si, scene] of chapter.scenes.entries()) {
      if (scene.id === id) {
        return {
          kind: 'scene',
          id,
          name: scene.name,
          parentId: chapter.id,
          index: si,
          chapter,
          scene
        };
      }
      for (const [hi, shot] of scene.shots.entries()) {
        if (shot.id === id) {
          return {
            kind: 'shot',
            id,
            name: shot.name,
            parentId: scene.id,
            index: hi,
            chapter,
            scene,
            shot
          };
        }
        for (const [ti, take] of shot.takes.entries()) {
          if (take.id === id) {
            return {
              kind: 'take',
              id,
              name: takeLabel(shot, take),
              parentId: shot.id,
              index: ti,
              chapter,
              scene,
              shot,
              take
            };
          }
        }
      }
    }
  }
  return null;
}

/** The children of a node (the chapters for `null`, the project). */
export function childrenOf(
  project: IProject,
  parentId: string | null
): { kind: HierarchyKind; id: string; name: string }[] {
  if (parentId === null) {
    return project.chapters.map(c => ({
      kind: 'chapter',
      id: c.id,
      name: c.name
    }));
  }
  const node = findNode(project, parentId);
  if (!node) {
    return [];
  }
  switch (node.kind) {
    case 'chapter':
      return node.chapter.scenes.map(s => ({
        kind: 'scene',
        id: s.id,
        name: s.name
      }));
    case 'scene':
      return node.scene!.shots.map(s => ({
        kind: 'shot',
        id: s.id,
        name: s.name
      }));
    case 'shot':
      return node.shot!.takes.map(t => ({
        kind: 'take',
        id: t.id,
        name: takeLabel(node.shot!, t)
      }));
    default:
      return [];
  }
}

/** The scene a selection belongs to (the scene itself, or the scene of a shot or take). */
export function sceneOf(
  project: IProject | null,
  id: string | null
): IScene | null {
  if (!project || !id) {
    return null;
  }
  const node = findNode(project, id);
  if (!node) {
    return null;
  }
  if (node.scene) {
    return node.scene;
  }
  return node.chapter.scenes[0] ?? null;
}

/** The first scene of the project, if any. */
export function firstScene(project: IProject | null): IScene | null {
  for (const chapter of project?.chapters ?? []) {
    if (chapter.scenes.length > 0) {
      return chapter.scenes[0];
    }
  }
  return null;
}

/** The take a shot shows: its selected take, else its newest completed take. */
export function shownTake(shot: IShot): ITake | null {
  const selected = shot.takes.find(take => take.id === shot.selectedTake);
  if (selected) {
    return selected;
  }
  const completed = shot.takes.filter(
    take => take.status === 'completed' && take.file
  );
  return completed[completed.length - 1] ?? null;
}

/** The media kind of a file from its extension. */
export function mediaKindOf(path: string | null | undefined): MediaKind {
  const ext = (path ?? '').split('.').pop()?.toLowerCase() ?? '';
  if (
    [
      'png',
      'jpg',
      'jpeg',
      'gif',
      'webp',
      'bmp',
      'svg',
      'avif',
      'tif',
      'tiff'
    ].includes(ext)
  ) {
    return 'image';
  }
  if (['mp4', 'webm', 'mov', 'mkv', 'm4v', 'avi', 'ogv'].includes(ext)) {
    return 'video';
  }
  if (
    ['mp3', 'wav', 'ogg', 'oga', 'flac', 'm4a', 'aac', 'opus'].includes(ext)
  ) {
    return 'audio';
  }
  if (
    [
      'glb',
      'gltf',
      'obj',
      'fbx',
      'usd',
      'usdz',
      'safetensors',
      'ckpt'
    ].includes(ext)
  ) {
    return 'model';
  }
  if (
    ['pdf', 'txt', 'md', 'json', 'toml', 'yaml', 'yml', 'fountain'].includes(
      ext
    )
  ) {
    return 'document';
  }
  return 'other';
}

/** Every node id of the project, for pruning state that refers to deleted nodes. */
export function allNodeIds(project: IProject | null): Set<string> {
  const ids = new Set<string>();
  for (const chapter of project?.chapters ?? []) {
    ids.add(chapter.id);
    for (const scene of chapter.scenes) {
      ids.add(scene.id);
      for (const shot of scene.shots) {
        ids.add(shot.id);
        for (const take of shot.takes) {
          ids.add(take.id);
        }
      }
    }
  }
  return ids;
}

/**
 * Where a take's file is, as a person reads it: the names of its chapter, scene and shot and
 * the take's own ("Arrival / Dawn / Wide / Take 2.png"), never the ids the folders carry.
 */
export function takeDisplayPath(
  project: IProject | null,
  takeId: string
): string | null {
  const node = findNode(project, takeId);
  if (!node?.take || !node.shot || !node.scene) {
    return null;
  }
  const file = node.take.file ?? '';
  const dot = file.lastIndexOf('.');
  const extension = dot > file.lastIndexOf('/') ? file.slice(dot) : '';
  return [
    node.chapter.name,
    node.scene.name,
    node.shot.name,
    `${takeLabel(node.shot, node.take)}${extension}`
  ].join(' / ');
}

/**
 * A project file's path as a person reads it: a take's file by names (see `takeDisplayPath`),
 * any other file (an asset) as it is.
 */
export function displayPath(project: IProject | null, path: string): string {
  if (project) {
    for (const chapter of project.chapters) {
      for (const scene of chapter.scenes) {
        for (const shot of scene.shots) {
          for (const take of shot.takes) {
            if (take.file === path) {
              return takeDisplayPath(project, take.id) ?? path;
            }
          }
        }
      }
    }
  }
  return path;
}
