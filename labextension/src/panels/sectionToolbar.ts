/**
 * Buttons of a side bar section's title bar (its toolbar): commands, or plain actions.
 */
import {
  CommandToolbarButton,
  LabIcon,
  ToolbarButton
} from '@jupyterlab/ui-components';
import { CommandRegistry } from '@lumino/commands';
import { ReadonlyPartialJSONObject } from '@lumino/coreutils';

/** A title-bar button that runs a command (icon only; the command's caption is its tooltip). */
export function commandButton(
  commands: CommandRegistry,
  id: string,
  testId: string,
  args: ReadonlyPartialJSONObject = {}
): CommandToolbarButton {
  const button = new CommandToolbarButton({
    commands,
    id,
    args: { ...args, isToolbar: true },
    label: ''
  });
  button.node.dataset.testid = testId;
  return button;
}

/** A title-bar button for an action of the section itself. */
export function actionButton(options: {
  icon: LabIcon;
  tooltip: string;
  testId: string;
  onClick: () => void;
}): ToolbarButton {
  const button = new ToolbarButton({
    icon: options.icon,
    tooltip: options.tooltip,
    onClick: options.onClick
  });
  button.node.dataset.testid = options.testId;
  return button;
}
