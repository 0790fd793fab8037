import numpy as np
from PIL import Image

from core.diffusion.faces import choose_face


def test_astronaut_has_one_confident_face_with_landmarks_and_embedding(astronaut, analyzer):
    choice = choose_face(analyzer.detect(astronaut), analyzer.min_score)
    assert choice is not None and choice.found == 1 and choice.note is None
    x0, y0, x1, y1 = choice.face.box
    assert 150 < (x0 + x1) / 2 < 290 and 50 < (y0 + y1) / 2 < 190  # her face, top centre
    assert choice.face.landmarks.shape == (70, 2)  # two eye centres + 68 points
    assert choice.face.embedding.shape == (analyzer.embedding_dim,)
    assert abs(choice.face.roll()) < 0.3


def test_no_face_on_the_camera_picture(camera, analyzer):
    assert choose_face(analyzer.detect(camera), analyzer.min_score) is None


def test_several_faces_take_the_largest_and_say_so(astronaut, analyzer):
    face = astronaut.crop((120, 20, 320, 220))
    canvas = Image.new("RGB", (700, 400), "gray")
    canvas.paste(face, (20, 100))
    canvas.paste(face.resize((300, 300)), (350, 50))
    choice = choose_face(analyzer.detect(canvas), analyzer.min_score)
    assert choice.found == 2
    assert choice.note == "2 faces found; used the largest"
    assert choice.face.centre[0] > 350


def test_embeddings_of_the_same_face_are_closer_than_of_another(astronaut, analyzer):
    face = astronaut.crop((120, 20, 320, 220))
    same = analyzer.detect(face.resize((260, 260)))[0].embedding
    original = analyzer.detect(astronaut)[0].embedding
    mirrored_other = analyzer.detect(Image.fromarray(np.asarray(astronaut)[:, ::-1]))[0].embedding
    assert np.linalg.norm(same - original) < 0.3
    assert mirrored_other is not None
