"""Stand-in insightface `buffalo_l` models: the real file names, input/output names and shapes,
random weights, built offline with the `onnx` package.

insightface recognises each model by its inputs and outputs (`model_zoo.get_model`), so these
load through the same `FaceAnalysis` code as the real pack:

- det_10g.onnx (SCRFD): nine outputs (scores, boxes, 5 key points at strides 8/16/32). The
  stand-in always "finds" one face in the middle of its 640² input, so a detection works on
  any picture; the other four models then run on that face.
- 2d106det.onnx / 1k3d68.onnx: landmarks (212 and 3309 outputs on a 192² crop).
- genderage.onnx: 3 outputs on a 96² crop.
- w600k_r50.onnx: the 512-d ArcFace embedding of the aligned 112² face; random but a
  function of the pixels, so different faces give different embeddings.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from core.modelkit.layout import BUFFALO_FILES

DET_SIZE = 640
STRIDES = (8, 16, 32)
ANCHORS = 2
# The one face, in pixels of the 640² detector input: centre, half sizes, 5 key points.
FACE_CENTRE = (320, 288)
FACE_HALF = (100, 130)
KEY_POINTS = ((-35, -30), (35, -30), (0, 5), (-28, 45), (28, 45))


def build_tiny_buffalo(folder: Path, seed: int = 0) -> None:
    """Write the five stand-in models into `folder` (…/faces/models/buffalo_l)."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    models = {
        "det_10g.onnx": _detector(),
        "2d106det.onnx": _pooled_head("data", 192, "fc1", _landmarks_2d(), rng),
        "1k3d68.onnx": _pooled_head("data", 192, "fc1", _landmarks_3d(), rng),
        "genderage.onnx": _pooled_head("data", 96, "fc1", np.array([0.0, 1.0, 0.3]), rng),
        "w600k_r50.onnx": _recognition(rng),
    }
    assert set(models) == set(BUFFALO_FILES)
    import onnx

    for name, model in models.items():
        onnx.checker.check_model(model)
        onnx.save(model, str(folder / name))


def _graph(nodes, name, inputs, outputs, initializers):
    from onnx import helper

    graph = helper.make_graph(nodes, name, inputs, outputs, initializers)
    return helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", 13)], ir_version=8, producer_name="narcis"
    )


def _tensor(name: str, array: np.ndarray):
    from onnx import numpy_helper

    return numpy_helper.from_array(np.asarray(array, dtype=np.float32), name)


def _detector():
    from onnx import TensorProto, helper

    image = helper.make_tensor_value_info("input.1", TensorProto.FLOAT, [1, 3, "?", "?"])
    nodes = [helper.make_node("ReduceMean", ["input.1"], ["mean"], keepdims=0)]
    nodes.append(helper.make_node("Mul", ["mean", "zero"], ["nothing"]))
    initializers = [_tensor("zero", np.zeros(()))]
    outputs = []
    # insightface reads all scores, then all boxes, then all key points
    for kind, width in (("score", 1), ("bbox", 4), ("kps", 10)):
        for stride in STRIDES:
            values = _detections(stride)[kind]
            assert values.shape[1] == width
            name = f"{kind}_{stride}"
            initializers.append(_tensor(f"{name}_const", values))
            nodes.append(helper.make_node("Add", [f"{name}_const", "nothing"], [name]))
            outputs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, values.shape))
    return _graph(nodes, "scrfd_standin", [image], outputs, initializers)


def _detections(stride: int) -> dict[str, np.ndarray]:
    side = DET_SIZE // stride
    count = side * side * ANCHORS
    score, bbox, kps = np.zeros((count, 1)), np.zeros((count, 4)), np.zeros((count, 10))
    if stride == STRIDES[-1]:
        x, y = FACE_CENTRE[0] // stride, FACE_CENTRE[1] // stride
        index = (y * side + x) * ANCHORS
        score[index] = 0.9
        dx, dy = FACE_CENTRE[0] - x * stride, FACE_CENTRE[1] - y * stride
        hw, hh = FACE_HALF
        bbox[index] = np.array([hw - dx, hh - dy, hw + dx, hh + dy]) / stride
        kps[index] = np.array([(px + dx, py + dy) for px, py in KEY_POINTS]).ravel() / stride
    return {"score": score, "bbox": bbox, "kps": kps}


def _pooled_head(input_name: str, side: int, output: str, bias: np.ndarray, rng):
    """Global average pool → a small linear layer: outputs near `bias`, shaped like the real."""
    from onnx import TensorProto, helper

    image = helper.make_tensor_value_info(input_name, TensorProto.FLOAT, [1, 3, side, side])
    out = helper.make_tensor_value_info(output, TensorProto.FLOAT, [1, bias.size])
    nodes = [
        helper.make_node("GlobalAveragePool", [input_name], ["pooled"]),
        helper.make_node("Flatten", ["pooled"], ["flat"]),
        helper.make_node("Gemm", ["flat", "weight", "bias"], [output], transB=1),
    ]
    initializers = [
        _tensor("weight", rng.normal(0, 1e-4, (bias.size, 3))),
        _tensor("bias", bias.reshape(-1)),
    ]
    return _graph(nodes, f"{output}_standin", [image], [out], initializers)


def _landmarks_2d() -> np.ndarray:
    angles = np.linspace(0, 2 * np.pi, 106, endpoint=False)
    return np.stack([0.6 * np.cos(angles), 0.7 * np.sin(angles)], 1).ravel()


def _landmarks_3d() -> np.ndarray:
    """3309 values: insightface keeps the last 68 × 3 as landmarks (x, y in −1..1, z)."""
    angles = np.linspace(0, 2 * np.pi, 68, endpoint=False)
    points = np.stack([0.6 * np.cos(angles), 0.7 * np.sin(angles), 0.1 * np.sin(2 * angles)], 1)
    return np.concatenate([np.zeros(3309 - points.size), points.ravel()])


def _recognition(rng):
    from onnx import TensorProto, helper

    image = helper.make_tensor_value_info("input.1", TensorProto.FLOAT, [1, 3, 112, 112])
    out = helper.make_tensor_value_info("683", TensorProto.FLOAT, [1, 512])
    nodes = [
        helper.make_node(
            "Conv", ["input.1", "conv"], ["features"], strides=[8, 8], kernel_shape=[8, 8]
        ),
        helper.make_node("Flatten", ["features"], ["flat"]),
        helper.make_node("Gemm", ["flat", "project"], ["683"], transB=1),
    ]
    initializers = [
        _tensor("conv", rng.normal(0, 0.02, (8, 3, 8, 8))),
        _tensor("project", rng.normal(0, 0.02, (512, 8 * 14 * 14))),
    ]
    return _graph(nodes, "arcface_standin", [image], [out], initializers)
