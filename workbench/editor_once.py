"""Reading the map editor once per run, in the page (#27 item 1).

Gradio's `ImageEditor` answers every ask for its value by uploading its images again
(background, strokes and composite once painted: `get_data` in its built JS). Its page asks:

1. for each input of an event, when the event starts (`gather_state`), and again at the
   event's first message from the server (clearing the inputs' validation errors);
2. for every component an event ever showed progress on, at *every* status message of *any*
   event afterwards (`update_loading_stati_state` → `update_state` without a value → the
   component's `get_data`): a 4-step stage 2 sends about 13.

So no event shows progress on the editor (`show_progress_on` wherever it is an output), and
stage 2 does not take the editor as an input: a step that runs in the page only (`js`, no
server call, hence no status messages) copies its value into a hidden editor, which has no
getter of its own (it is never drawn) and hands the already-uploaded files on as they are.
"""

from __future__ import annotations

from collections.abc import Callable

import gradio as gr

# The editor's value as it is (`?? null`: an undefined answer would leave the copy stale).
AS_IS = "(value) => value ?? null"


def editor_copy() -> gr.ImageEditor:
    """A hidden editor that carries the visible one's value to stage 2, read by the server
    exactly as the visible one would be (same type, mode and format)."""
    return gr.ImageEditor(type="pil", image_mode="RGBA", format="png", visible=False)


def read_once(trigger: Callable, editor: gr.ImageEditor, copy: gr.ImageEditor) -> object:
    """`trigger` (e.g. a button's `click`) copies `editor` into `copy` in the page; chain the
    run after it with `.then`, reading `copy`."""
    return trigger(
        None, editor, copy, js=AS_IS, api_name=False, queue=False, show_progress="hidden"
    )
