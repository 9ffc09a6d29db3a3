import importlib.metadata

import pytest

from tformer import registry
from tformer.registry import Registry


class _Base:
    pass


def _make():
    reg = Registry("widget", base=_Base)

    @reg.register("round_widget")
    class Round(_Base):
        def __init__(self, radius: float, colour: str = "red"):
            self.radius, self.colour = radius, colour

    return reg, Round


def test_build_checks_arguments_against_the_constructor():
    reg, Round = _make()
    built = reg.build("round_widget", radius=2.0)
    assert isinstance(built, Round) and built.radius == 2.0 and built.colour == "red"
    with pytest.raises(TypeError, match=r"unknown argument 'color'\. Did you mean 'colour'\? Accepted: radius, colour"):
        reg.build("round_widget", radius=1.0, color="blue")
    with pytest.raises(TypeError, match="missing required argument.*'radius'"):
        reg.build("round_widget")


def test_unknown_name_lists_known_ones_and_the_closest():
    reg, _ = _make()
    with pytest.raises(KeyError, match=r"unknown widget 'round_widgit'\. Did you mean 'round_widget'\? Registered: round_widget"):
        reg.get("round_widgit")
    assert "round_widget" in reg and reg.names() == ["round_widget"]


def test_duplicate_names_and_wrong_bases_are_errors():
    reg, Round = _make()
    reg.register("round_widget")(Round)  # the same class again is harmless (re-import)
    with pytest.raises(ValueError, match="'round_widget' is already registered"):
        reg.register("round_widget")(type("Other", (_Base,), {}))
    with pytest.raises(TypeError, match="must subclass _Base"):
        reg.register("square")(type("Square", (), {}))


def test_entry_point_plugins_are_imported_once(monkeypatch):
    reg = Registry("widget")
    imported = []

    class _EntryPoint:
        name, value = "fake", "fake_plugin"

        def load(self):
            imported.append(self.value)
            reg.register("from_plugin")(dict)

    monkeypatch.setattr(registry, "_plugins_loaded", False)
    monkeypatch.setattr(importlib.metadata, "entry_points", lambda group: [_EntryPoint()] if group == "tformer.plugins" else [])
    assert reg.get("from_plugin") is dict
    reg.names()
    assert imported == ["fake_plugin"]


def test_a_broken_plugin_warns_and_does_not_break_tformer(monkeypatch, caplog):
    class _Broken:
        name, value = "broken", "broken_plugin"

        def load(self):
            raise ImportError("no module named broken_plugin")

    monkeypatch.setattr(registry, "_plugins_loaded", False)
    monkeypatch.setattr(importlib.metadata, "entry_points", lambda group: [_Broken()])
    assert Registry("widget").names() == []
    assert "broken_plugin" in caplog.text
