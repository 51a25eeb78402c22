/**
 * The studio's icons: one per kind of node, plus the studio itself. Paths use `jp-icon3` so that
 * JupyterLab's themes recolour them.
 */
import { LabIcon } from '@jupyterlab/ui-components';

import type { MediaKind, SelectionKind } from './types';

const svg = (body: string): string =>
  `<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" viewBox="0 0 16 16">` +
  `<g class="jp-icon3" fill="#616161">${body}</g></svg>`;

/** The studio (a clapperboard): launcher card, main view tab, sidebar tab. */
export const studioIcon = new LabIcon({
  name: 'gms-lab:studio',
  svgstr: svg(
    '<path d="M2 6h12v7.5a.5.5 0 0 1-.5.5h-11a.5.5 0 0 1-.5-.5z"/>' +
      '<path d="M1.7 3.3 13.3 1l.4 2-11.6 2.3z"/>'
  )
});

/** The asset library (stacked pictures). */
export const assetsIcon = new LabIcon({
  name: 'gms-lab:assets',
  svgstr: svg(
    '<path d="M4 2h10v9H4zm1 1v5.5L7.5 6l2.5 3 1.5-1.5L13 9V3z"/>' +
      '<path d="M2 4h1v9h10v1H2z"/>'
  )
});

/** A chapter (a book). */
export const chapterIcon = new LabIcon({
  name: 'gms-lab:chapter',
  svgstr: svg(
    '<path d="M3 2h8.5A1.5 1.5 0 0 1 13 3.5V14H4.5A1.5 1.5 0 0 1 3 12.5zm1 10.5a.5.5 0 0 0 .5.5H12v-1H4.5a.5.5 0 0 0-.5.5z"/>'
  )
});

/** A scene (a film strip). */
export const sceneIcon = new LabIcon({
  name: 'gms-lab:scene',
  svgstr: svg(
    '<path d="M2 3h12v10H2zm1 1v1h1V4zm9 0v1h1V4zM3 7v2h1V7zm9 0v2h1V7zm-9 4v1h1v-1zm9 0v1h1v-1zM5 4v8h6V4z"/>'
  )
});

/** A shot (a camera). */
export const shotIcon = new LabIcon({
  name: 'gms-lab:shot',
  svgstr: svg('<path d="M1 4.5h9.5v7H1zM11.5 7 15 5v6l-3.5-2z"/>')
});

/** A take (a frame). */
export const takeIcon = new LabIcon({
  name: 'gms-lab:take',
  svgstr: svg(
    '<path d="M2 3h12v10H2zm1 1v6.5L6 7l3 3.5L11 8l2 2.5V4z"/><circle cx="11" cy="5.5" r="1"/>'
  )
});

/** Audio (a note). */
export const audioIcon = new LabIcon({
  name: 'gms-lab:audio',
  svgstr: svg(
    '<path d="M6 2.5 13 1v9.5a2 2 0 1 1-1-1.7V3.3L7 4.4v7.1a2 2 0 1 1-1-1.7z"/>'
  )
});

/** A video file (a play button in a frame). */
export const videoIcon = new LabIcon({
  name: 'gms-lab:video',
  svgstr: svg('<path d="M2 3h12v10H2zm4.5 2.5v5l4-2.5z"/>')
});

/** Any other file. */
export const fileIcon = new LabIcon({
  name: 'gms-lab:file',
  svgstr: svg('<path d="M3 1h6.5L13 4.5V15H3zm6 1v3h3z"/>')
});

/** The icon of a kind of selectable item. */
export function iconForKind(kind: SelectionKind): LabIcon {
  switch (kind) {
    case 'project':
      return studioIcon;
    case 'chapter':
      return chapterIcon;
    case 'scene':
      return sceneIcon;
    case 'shot':
      return shotIcon;
    case 'take':
      return takeIcon;
    default:
      return fileIcon;
  }
}

/** The icon of a media kind, for files without a thumbnail. */
export function iconForMedia(kind: MediaKind): LabIcon {
  switch (kind) {
    case 'image':
      return takeIcon;
    case 'video':
      return videoIcon;
    case 'audio':
      return audioIcon;
    default:
      return fileIcon;
  }
}

/** The Inspector's sidebar tab (sliders). */
export const inspectorPanelIcon = new LabIcon({
  name: 'gms-lab:inspector',
  svgstr: svg(
    '<path d="M2 3.5h7v1H2zm10 0h2v1h-2zM2 7.5h2v1H2zm5 0h7v1H7zM2 11.5h8v1H2zm11 0h1v1h-1z"/>' +
      '<path d="M9 2h3v4H9zM4 6h3v4H4zm6 4h3v4h-3z"/>'
  )
});

/** The Progress section (bars filling up), unlike JupyterLab's Running panel icon. */
export const progressIcon = new LabIcon({
  name: 'gms-lab:progress',
  svgstr: svg(
    '<path d="M2 3h12v2.5H2zm0 3.75h12v2.5H2zM2 10.5h12V13H2z" fill-opacity=".3"/>' +
      '<path d="M2 3h9v2.5H2zm0 3.75h5v2.5H2zM2 10.5h11V13H2z"/>'
  )
});
