import json
from pathlib import Path

from tests.helpers import run_narcis


def test_bench_work_meets_its_targets(tmp_path: Path) -> None:
    out = tmp_path / "work.json"
    result = run_narcis("bench", "work", "--json", str(out), data=tmp_path / "var")
    assert result.returncode == 0, result.stderr
    report = json.loads(out.read_text())
    for stage in ("composition", "identity"):  # 20 steps, the last 20% unguided
        assert report["unet_calls"][stage] == {"batch 2": 16, "batch 1": 4}
    assert report["vae"] == {"decode": 2, "encode": 1}
    assert report["syncs_per_step"] == 0
    assert report["graph_breaks"] == 0
    assert report["tflops"]["composition UNet"] == round(6.761 * 36, 1)
    assert "TFLOP at 1024², total" in result.stdout
    # Previews on: 4 per 20-step stage, no extra VAE work, no syncs on the other steps.
    previews = report["previews"]
    assert previews["previewed steps"] == 8 and previews["kind"] == "linear"
    assert previews["syncs per other step"] == 0 and previews["ms per previewed step"] > 0
    print(previews)


def test_bench_overhead_and_the_gpu_harness_smoke_test(tmp_path: Path) -> None:
    overhead = run_narcis(
        "bench",
        "overhead",
        "--steps",
        "10",
        "--json",
        str(tmp_path / "o.json"),
        data=tmp_path / "var",
    )
    assert overhead.returncode == 0, overhead.stderr
    assert set(json.loads((tmp_path / "o.json").read_text())) == {
        "stage 1 loop",
        "stage 2 loop (re-insertion)",
    }
    gpu = run_narcis(
        "bench",
        "gpu",
        "--tiny",
        "--device",
        "cpu",
        "--runs",
        "1",
        "--no-compile",
        "--json",
        str(tmp_path / "g.json"),
        data=tmp_path / "var",
    )
    assert gpu.returncode == 0, gpu.stderr
    report = json.loads((tmp_path / "g.json").read_text())
    assert set(report["seconds"]) == {"reference", "ours (quality)", "ours (fast)"}
    assert "the reference's speed" in gpu.stdout


def test_bench_gpu_without_a_gpu_is_one_clear_line(tmp_path: Path) -> None:
    result = run_narcis("bench", "gpu", data=tmp_path / "var")
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "narcis: error: bench gpu needs a CUDA GPU (or --tiny for a smoke test on the CPU)"
    )
