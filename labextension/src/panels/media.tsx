/**
 * Pictures of takes and assets: a media element for a file, a take's picture (its image or
 * video, its live preview while it is generated, or a word for where it stands).
 */
import React from 'react';

import { mediaKindOf } from '../hierarchy';
import type { StudioModel } from '../model';
import { STATUS_LABELS } from '../types';
import type { ITake, ITaskRecord, MediaKind } from '../types';

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
        <img
          className="gms-Media"
          src={url}
          alt={label}
          draggable={false}
          // a strip or storyboard of hundreds of takes fetches the pictures it shows (a full
          // view decodes as usual: switching takes there shows no empty frame)
          loading={compact ? 'lazy' : undefined}
          decoding={compact ? 'async' : undefined}
        />
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
export function takeUrl(
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
    if (take.status === 'generating') {
      return <Generating model={model} task={task ?? null} />;
    }
    // one word per status, as in the tree and the Progress panel; the reason on hover
    return (
      <div
        className={`gms-Placeholder gms-mod-${take.status}`}
        title={take.error ?? undefined}
        data-testid="gms-take-state"
      >
        <span className="gms-Placeholder-label">
          {STATUS_LABELS[take.status] ?? take.status}
        </span>
        {take.status === 'error' && take.error && !compact ? (
          <span className="gms-Placeholder-reason">{take.error}</span>
        ) : null}
      </div>
    );
  }
  const usesThumbnail = compact && !!take.thumbnail;
  const url = takeUrl(model, take, !!compact)!;
  const kind = usesThumbnail ? 'image' : mediaKindOf(take.file);
  return <Media url={url} kind={kind} label={label} compact={compact} />;
}
