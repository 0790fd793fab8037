"""A real worker publishes live previews as job events, between the steps and before done."""

import base64
import io

import pytest
from PIL import Image

from core.diffusion.params import CompositionParams, IdentityParams, PortraitParams
from tests.core.jobs.test_worker import finish, submit

PARAMS = PortraitParams(
    composition=CompositionParams(prompt="byzantine emperor", width=64, height=64, steps=2),
    identity=IdentityParams(steps=20, crop_size=128),
    face_retries=0,
)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_previews_arrive_as_events_before_done(stack, astronaut) -> None:
    job_id = stack.run(submit(stack, astronaut, PARAMS))
    stack.start_worker()
    events, status = stack.run(finish(stack, job_id))
    assert status.status == "done", stack.logs()
    kinds = [e.type for e in events]
    previews = [e for e in events if e.type == "preview"]
    assert previews and kinds.index("preview") < kinds.index("done")
    assert all(e.stage == "identity" and e.step % 4 == 0 for e in previews)
    images = [Image.open(io.BytesIO(base64.b64decode(e.preview))) for e in previews]
    # The whole base (shrunk to 256²) with the face repainted in place, not the 128² crop.
    assert {(im.format, im.size) for im in images} == {("WEBP", (256, 256))}
