"""The workbench streams live previews into the picture being made while a stage runs."""

from PIL import Image

from core.diffusion.params import CompositionParams, IdentityParams, PortraitParams
from tests.workbench.test_app import astronaut_file, client, workbench_url  # noqa: F401

PARAMS = PortraitParams(
    composition=CompositionParams(prompt="byzantine emperor", width=64, height=64, steps=10),
    identity=IdentityParams(steps=10, crop_size=64, face_box=(0.1, 0.1, 0.9, 0.9)),
)


def outputs(session, **kwargs) -> list:
    job = session.submit(**kwargs)
    job.result()
    return job.outputs()


def test_stage_one_and_two_stream_previews_before_their_result(
    client,  # noqa: F811
    astronaut_file,  # noqa: F811
) -> None:
    from gradio_client import handle_file

    client.predict(paths=[handle_file(astronaut_file)], api_name="/references")
    first = outputs(client, text=PARAMS.model_dump_json(), api_name="/stage1")
    sizes = [Image.open(out[0]).size for out in first]
    # Previews at steps 2, 4, 6, 8 at latent resolution (8²), then the 64² base itself.
    assert sizes == [(8, 8)] * 4 + [(64, 64)], sizes
    assert len({Image.open(out[0]).tobytes() for out in first[:4]}) >= 3  # it changes
    second = outputs(
        client,
        text=PARAMS.model_dump_json(),
        painted=None,
        power=1.0,
        flip=False,
        uploaded=None,
        api_name="/stage2",
    )
    # Stage 2's previews: the whole base with the face repainted in place, then the result.
    assert [Image.open(out[0]).size for out in second] == [(64, 64)] * 5
