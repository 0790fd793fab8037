"""The face box, dragged on the picture: press on the face view (the base with its face box),
drag to the opposite corner, let go. The four fractions of the typed field are the precise
fallback, and they stay in sync both ways: a drag writes them (and the field's blur sends them,
as if typed), and typed fractions redraw the box through the usual preview.

Gradio has no box-drag on an image, so a small script (face_drag.js) does it, run on page load
(`launch(js=)`). It listens on the document, because Gradio replaces the `<img>` each time the
view updates, and it sends nothing while the pointer moves: one value when the drag ends, like
a typed box.
"""

from __future__ import annotations

import json
from pathlib import Path

FACE_VIEW_ID = "face-view"  # the image component the box is dragged on
FACE_BOX_ID = "control-identity-face_box"  # the typed fractions (the id every control has)
DRAG_BOX_ID = "face-drag-box"  # the outline drawn while dragging
SMALLEST = 0.02  # a drag narrower or lower than this (of the picture) is a click, not a box

CONFIG = {"view": FACE_VIEW_ID, "field": FACE_BOX_ID, "ring": DRAG_BOX_ID, "smallest": SMALLEST}


def face_drag_js() -> str:
    """What `launch(js=)` runs on page load: the script (face_drag.js), called with the ids."""
    script = Path(__file__).with_name("face_drag.js").read_text()
    return f"() => ({script})({json.dumps(CONFIG)})"
