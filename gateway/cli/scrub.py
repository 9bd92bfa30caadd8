"""`gateway scrub`: free-text scrubbing in extracts, and training the NER model it can use."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from gateway.cli.common import (
    DataDirOption,
    console,
)
from gateway.cli.main import app

scrub_app = typer.Typer(
    help="Free-text scrubbing in extracts: the NER model the scrubber can use.", no_args_is_help=True
)
app.add_typer(scrub_app, name="scrub")


@scrub_app.command("train")
def scrub_train(
    notes: Annotated[int, typer.Option(min=50, help="Generated training notes.")] = 3000,
    epochs: Annotated[int, typer.Option(min=1, help="Passes over the training notes.")] = 8,
    seed_value: Annotated[int, typer.Option("--seed", help="Same seed, same notes and model.")] = 7,
    data_dir: DataDirOption = Path("var"),
) -> None:
    """Train the notes NER model offline from generated notes and keep it in DATA_DIR/models/notes-ner,
    where extract builds find it (a few minutes at the defaults; nothing is downloaded). To use another
    spaCy pipeline instead, set GATEWAY_SCRUB_SPACY_MODEL to an installed package or a directory."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    from gateway.privacy.ner_model import MODEL_DIR
    from gateway.synth.ner_training import train_notes_ner

    out = Path(data_dir) / MODEL_DIR
    columns = (TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[loss]}"))
    with Progress(*columns, TimeRemainingColumn(), console=console) as progress:
        task = progress.add_task("training the notes NER model", total=epochs, loss="")
        trained = train_notes_ner(
            out,
            notes=notes,
            epochs=epochs,
            seed=seed_value,
            progress=lambda done, _total, loss: progress.update(
                task, completed=done, loss=f"loss {loss:,.1f}"
            ),
        )
    console.print(
        f"trained on {trained.notes:,} notes in {trained.seconds:.0f} s; on notes of another seed: "
        f"precision {trained.dev_precision:.3f}, recall {trained.dev_recall:.3f} (the project's own "
        f"phrasing: see docs/extracts.md for recall on notes it did not write). Saved to {out}"
    )
