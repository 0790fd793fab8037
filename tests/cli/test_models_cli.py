import shutil
from pathlib import Path

from safetensors.torch import load_file, save_file

from tests.helpers import run_narcis


def test_check_names_three_distinct_problems(tiny_models: Path, tmp_path: Path) -> None:
    broken = tmp_path / "models"
    shutil.copytree(tiny_models, broken)
    (broken / "sdxl/vae/diffusion_pytorch_model.safetensors").unlink()
    unet_file = broken / "sdxl/unet/diffusion_pytorch_model.safetensors"
    weights = load_file(unet_file)
    weights["conv_in.weight"] = weights["conv_in.weight"][:16].clone()
    save_file(weights, unet_file)
    (broken / "sdxl/text_encoder/config.json").write_text('{"hidden_size": 32,')

    result = run_narcis("models", "check", "--dir", str(broken), data=tmp_path / "var")

    assert result.returncode == 1
    out = " ".join(result.stdout.split())
    assert "sdxl/vae has no weights file" in out
    assert "conv_in.weight has shape [16, 4, 3, 3], expected [32, 4, 3, 3]" in out
    assert "sdxl/text_encoder/config.json is not valid JSON" in out
    assert "Traceback" not in result.stderr


def test_check_passes_on_a_good_folder(tiny_models: Path, tmp_path: Path) -> None:
    result = run_narcis("models", "check", "--dir", str(tiny_models), data=tmp_path / "var")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "all models present" in result.stdout


def test_check_notices_a_mismatched_photomaker_file(tiny_models: Path, tmp_path: Path) -> None:
    broken = tmp_path / "models"
    shutil.copytree(tiny_models, broken)
    (broken / "photomaker/photomaker-v2.bin").write_bytes(b"not a checkpoint")
    result = run_narcis("models", "check", "--dir", str(broken), data=tmp_path / "var")
    assert result.returncode == 1
    assert "not a readable PhotoMaker file" in result.stdout


def test_tiny_writes_a_folder_that_checks(tmp_path: Path) -> None:
    target, data = str(tmp_path / "m"), tmp_path / "var"
    assert run_narcis("models", "tiny", "--dir", target, data=data).returncode == 0
    assert run_narcis("models", "check", "--dir", target, data=data).returncode == 0


def test_sharded_checkpoints_are_understood(tiny_models: Path, tmp_path: Path) -> None:
    from diffusers import UNet2DConditionModel

    sharded = tmp_path / "models"
    shutil.copytree(tiny_models, sharded)
    unet_dir = sharded / "sdxl/unet"
    unet = UNet2DConditionModel.from_pretrained(unet_dir)
    for old in unet_dir.glob("*.safetensors"):
        old.unlink()
    unet.save_pretrained(unet_dir, max_shard_size="2MB")
    shards = sorted(unet_dir.glob("diffusion_pytorch_model-*.safetensors"))
    assert len(shards) >= 2
    ok = run_narcis("models", "check", "--dir", str(sharded), data=tmp_path / "var")
    assert ok.returncode == 0, ok.stdout
    shards[-1].unlink()
    broken = run_narcis("models", "check", "--dir", str(sharded), data=tmp_path / "var")
    assert broken.returncode == 1 and f"shard {shards[-1].name} is missing" in broken.stdout


def test_check_reports_the_optional_models_and_checks_them_when_present(
    tiny_models: Path, tmp_path: Path
) -> None:
    from tests.core.diffusion.test_preview import tiny_taesd
    from tests.core.diffusion.tiny_clip import build_tiny_clip

    folder = tmp_path / "models"
    shutil.copytree(tiny_models, folder)
    absent = run_narcis("models", "check", "--dir", str(folder), data=tmp_path / "var")
    assert absent.returncode == 0, absent.stdout + absent.stderr
    assert "taesdxl/: absent: previews use the linear approximation" in absent.stdout
    assert "clip/: absent: portraits get a likeness score only" in absent.stdout

    tiny_taesd(folder / "taesdxl")
    build_tiny_clip(folder / "clip")
    present = run_narcis("models", "check", "--dir", str(folder), data=tmp_path / "var")
    assert present.returncode == 0, present.stdout + present.stderr
    assert "taesdxl/: present" in present.stdout and "clip/: present" in present.stdout

    taesd = folder / "taesdxl/diffusion_pytorch_model.safetensors"
    weights = load_file(taesd)
    weights.pop(next(iter(weights)))
    save_file(weights, taesd)
    (folder / "clip/tokenizer.json").unlink()
    broken = run_narcis("models", "check", "--dir", str(folder), data=tmp_path / "var")
    assert broken.returncode == 1
    out = " ".join(broken.stdout.split())
    assert "taesdxl/diffusion_pytorch_model.safetensors is missing tensor" in out
    assert "clip/ has no tokenizer" in out
    assert "Traceback" not in broken.stderr


def test_download_refuses_an_unknown_optional_model(tmp_path: Path) -> None:
    result = run_narcis("models", "download", "--with", "dalle", data=tmp_path / "var")
    assert result.returncode == 2
    assert "'dalle' is not one of 'taesdxl', 'clip'" in " ".join(result.stderr.split())
    assert "Traceback" not in result.stderr
