"""docs/configuration.md is made from the config models: it lists every setting, and is current."""

from __future__ import annotations

from pathlib import Path

from controller.config import Config
from controller.config_reference import SECTIONS, render

DOC = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"


def test_the_document_is_current() -> None:
    assert DOC.read_text(encoding="utf-8") == render(), \
        "run: python -m controller.config_reference > docs/configuration.md"


def test_every_section_of_the_config_is_documented() -> None:
    documented = {model for _, model, _ in SECTIONS}
    for name, field in Config.model_fields.items():
        annotation = field.annotation
        inner = getattr(annotation, "__args__", (annotation,))
        assert any(model in documented for model in inner), name


def test_every_setting_has_a_meaning() -> None:
    for _, model, _ in SECTIONS:
        for name, field in model.model_fields.items():
            assert field.description, f"{model.__name__}.{name}"
