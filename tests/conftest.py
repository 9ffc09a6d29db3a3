import pytest
import torch

from tests import plugin_example


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


@pytest.fixture(scope="session")
def kmer_site(tmp_path_factory):
    """docs/extend.md's modality plug-in (tformer-kmer), pip-installed offline into a folder of its own."""
    if not plugin_example.can_build_wheels():
        pytest.skip("building the plug-in offline needs wheel or setuptools>=70.1")
    root = tmp_path_factory.mktemp("kmer")
    plugin_example.pip_install(plugin_example.write_example(root / "src"), root / "site")
    return root / "site"


@pytest.fixture(scope="session")
def denoise_site(tmp_path_factory):
    """docs/extend.md's task plug-in (tformer-denoise), pip-installed offline into a folder of its own."""
    if not plugin_example.can_build_wheels():
        pytest.skip("building the plug-in offline needs wheel or setuptools>=70.1")
    root = tmp_path_factory.mktemp("denoise")
    source = plugin_example.write_example(root / "src", project=plugin_example.DENOISE)
    plugin_example.pip_install(source, root / "site")
    return root / "site"
