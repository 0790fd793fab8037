from tests.helpers import heavy_imports


def test_the_site_never_imports_torch_or_diffusers() -> None:
    modules = ("photowall.app", "photowall.routes.make", "core.diffusion.faces.backends")
    assert heavy_imports(*modules) == "none"
