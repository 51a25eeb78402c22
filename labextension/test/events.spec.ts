/**
 * The event dispatcher: subscribe per type, parse what the server sends.
 */
import { describe, expect, it, vi } from 'vitest';

import {
  EventDispatcher,
  isServerEventType,
  parseServerEvent
} from '../src/events';
import type { TaskProgress } from '../src/events.generated';

const progress: TaskProgress = {
  type: 'task_progress',
  taskId: 't',
  nodeId: 'sh1',
  progress: 0.5,
  step: 'denoising',
  status: 'running',
  seq: 3,
  pipeline: 'still',
  preview: null
};

describe('EventDispatcher', () => {
  it('delivers an event only to the handlers of its type', () => {
    const dispatcher = new EventDispatcher();
    const onProgress = vi.fn();
    const onSuccess = vi.fn();
    dispatcher.on('task_progress', onProgress);
    dispatcher.on('task_success', onSuccess);

    dispatcher.dispatch(progress);

    expect(onProgress).toHaveBeenCalledWith(progress);
    expect(onSuccess).not.toHaveBeenCalled();
  });

  it('types the handler by the event it subscribes to', () => {
    const dispatcher = new EventDispatcher();
    const steps: string[] = [];
    // `event.step` only type-checks because the handler receives a TaskProgress.
    dispatcher.on('task_progress', event => steps.push(event.step));
    dispatcher.dispatch(progress);
    expect(steps).toEqual(['denoising']);
  });

  it('stops delivering after the subscription is disposed', () => {
    const dispatcher = new EventDispatcher();
    const handler = vi.fn();
    const subscription = dispatcher.on('pong', handler);
    dispatcher.dispatch({ type: 'pong', time: null });
    subscription.dispose();
    dispatcher.dispatch({ type: 'pong', time: null });
    expect(handler).toHaveBeenCalledTimes(1);
  });

  it('gives every event to catch-all handlers', () => {
    const dispatcher = new EventDispatcher();
    const seen: string[] = [];
    dispatcher.onAny(event => seen.push(event.type));
    dispatcher.dispatch(progress);
    dispatcher.dispatch({ type: 'pong', time: null });
    expect(seen).toEqual(['task_progress', 'pong']);
  });

  it('keeps delivering when one handler throws', () => {
    const dispatcher = new EventDispatcher();
    const error = vi
      .spyOn(console, 'error')
      .mockImplementation(() => undefined);
    const after = vi.fn();
    dispatcher.on('pong', () => {
      throw new Error('boom');
    });
    dispatcher.on('pong', after);
    dispatcher.dispatch({ type: 'pong', time: null });
    expect(after).toHaveBeenCalled();
    expect(error).toHaveBeenCalled();
  });

  it('delivers nothing once disposed', () => {
    const dispatcher = new EventDispatcher();
    const handler = vi.fn();
    dispatcher.onAny(handler);
    dispatcher.dispose();
    dispatcher.dispatch({ type: 'pong', time: null });
    expect(handler).not.toHaveBeenCalled();
    expect(dispatcher.isDisposed).toBe(true);
  });
});

describe('parseServerEvent', () => {
  it('parses a known event', () => {
    expect(parseServerEvent(JSON.stringify(progress))).toEqual(progress);
  });

  it('rejects text that is not JSON, not an object, or of an unknown type', () => {
    expect(parseServerEvent('not json')).toBeNull();
    expect(parseServerEvent('[1, 2]')).toBeNull();
    expect(parseServerEvent('null')).toBeNull();
    expect(parseServerEvent('{"type": "mystery"}')).toBeNull();
    expect(parseServerEvent('{"no": "type"}')).toBeNull();
  });

  it('knows every type of the generated union and nothing else', () => {
    for (const type of ['hello', 'task_failed', 'asset_removed', 'error']) {
      expect(isServerEventType(type)).toBe(true);
    }
    expect(isServerEventType('start_generation')).toBe(false);
    expect(isServerEventType('toString')).toBe(false);
  });
});
