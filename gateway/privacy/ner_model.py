"""The notes NER model: a small spaCy pipeline the project trains itself, offline, from its own notes.

No pretrained spaCy model can be installed here, and the scrubber must never download one. So
`gateway scrub train` trains a pipeline (spaCy's default NER: a hash-embedding CNN and a
transition-based parser, a few megabytes; `gateway/synth/ner_training.py`) on sentences from
`gateway/synth/training_notes.py` and saves it under the data directory (`models/notes-ner`). The
scrubber loads it when it is there, or any spaCy pipeline an operator names (an installed package such
as `en_core_web_lg`, or a directory) through the `scrub_spacy_model` setting; a name that is neither
installed nor a directory is an error, never a download.
"""

from __future__ import annotations

from pathlib import Path

import spacy

MODEL_DIR = "models/notes-ner"
LABEL = "PERSON"


class ModelNotFound(LookupError):
    """The configured spaCy model is neither an installed package nor a directory."""


def resolve_model(name: str | Path) -> str:
    """An installed package name or an existing directory; anything else is refused (no download)."""
    text = str(name)
    if spacy.util.is_package(text) or Path(text).is_dir():
        return text
    raise ModelNotFound(
        f"spaCy model {text!r} is neither an installed package nor a directory; train one with "
        "`gateway scrub train` or install the package yourself (the gateway never downloads models)"
    )


def notes_model(data_dir: Path, configured: str | None) -> str | None:
    """The model the scrubber uses: the configured one (checked), else the data dir's trained one."""
    if configured:
        return resolve_model(configured)
    trained = data_dir / MODEL_DIR
    return str(trained) if (trained / "meta.json").is_file() else None
