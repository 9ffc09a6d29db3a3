"""What every picture test checks: the file opens, has a size, and is not one flat colour."""

from pathlib import Path

from PIL import Image


def assert_picture(path: Path) -> tuple[int, int]:
    """Open ``path`` with PIL; returns its (width, height)."""
    assert path.is_file() and path.stat().st_size > 0
    with Image.open(path) as image:
        image.load()
        rgb = image.convert("RGB")
    assert rgb.width > 0 and rgb.height > 0
    assert any(low < high for low, high in rgb.getextrema()), f"{path} is a single colour"
    return rgb.size
