/**
 * React glue for the panels: re-render when model signals fire.
 */
import { ISignal } from '@lumino/signaling';
import { useEffect, useReducer } from 'react';

/**
 * Re-render the component whenever one of `signals` fires, and return `read()`.
 *
 * The signals are connected in an effect, which React runs after the first render is on the
 * page: a signal that fired in between (the studio restoring the last selection while the
 * Inspector mounted) would go unheard and the panel would show what was read before it. So the
 * component renders once more once connected.
 *
 * @param signals - the model signals the component depends on
 * @param read - reads the current value from the model
 */
export function useSignals<T>(
  signals: ISignal<unknown, unknown>[],
  read: () => T
): T {
  const [, rerender] = useReducer((count: number) => count + 1, 0);
  useEffect(() => {
    const slot = (): void => rerender();
    for (const signal of signals) {
      signal.connect(slot);
    }
    rerender(); // what changed before the signals were connected
    return () => {
      for (const signal of signals) {
        signal.disconnect(slot);
      }
    };
    // The signals of a panel are fixed for its life: subscribe once.
  }, []);
  return read();
}

/** Re-render every `ms` while `active` (for durations that tick). */
export function useTicker(active: boolean, ms = 1000): void {
  const [, rerender] = useReducer((count: number) => count + 1, 0);
  useEffect(() => {
    if (!active) {
      return;
    }
    const handle = setInterval(rerender, ms);
    return () => clearInterval(handle);
  }, [active, ms]);
}
