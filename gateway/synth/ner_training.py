"""Training the notes NER model from the project's own generated notes (see `privacy/ner_model.py`
for how the scrubber finds and loads it)."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import spacy
from spacy.language import Language
from spacy.training import Example
from spacy.util import fix_random_seed, minibatch

from gateway.privacy.ner_model import LABEL
from gateway.synth.training_notes import training_notes


@dataclass(frozen=True)
class Trained:
    path: Path
    notes: int
    epochs: int
    seconds: float
    dev_precision: float
    dev_recall: float


def _examples(nlp: Language, notes: int, seed: int) -> list[Example]:
    out = []
    for text, spans in training_notes(notes, seed=seed):
        doc = nlp.make_doc(text)
        ents = []
        for start, end, label in spans:
            span = doc.char_span(start, end, label=label, alignment_mode="contract")
            if span is not None:
                ents.append((span.start_char, span.end_char, label))
        out.append(Example.from_dict(doc, {"entities": ents}))
    return out


def _score(nlp: Language, examples: list[Example]) -> tuple[float, float]:
    predicted = found = right = 0
    for ex in examples:
        gold = {(e.start_char, e.end_char) for e in ex.reference.ents}
        guess = {(e.start_char, e.end_char) for e in nlp(ex.reference.text).ents if e.label_ == LABEL}
        predicted += len(guess)
        found += len(gold)
        right += len(gold & guess)
    return (right / predicted if predicted else 1.0), (right / found if found else 1.0)


def train_notes_ner(
    out: Path,
    notes: int = 3000,
    epochs: int = 10,
    seed: int = 7,
    progress: Callable[[int, int, float], None] | None = None,
) -> Trained:
    """Train on `notes` generated notes, keep a fifth of another seed's notes to report precision and
    recall on, and save the pipeline to `out`."""
    started = time.perf_counter()
    fix_random_seed(seed)
    nlp = spacy.blank("en")
    ner = nlp.add_pipe("ner")
    ner.add_label(LABEL)  # type: ignore[attr-defined]
    train = _examples(nlp, notes, seed)
    dev = _examples(nlp, max(50, notes // 5), seed + 1)
    optimizer = nlp.initialize(lambda: train)
    rnd = random.Random(seed)
    for epoch in range(epochs):
        rnd.shuffle(train)
        losses: dict[str, float] = {}
        for batch in minibatch(train, size=16):
            nlp.update(batch, drop=0.2, sgd=optimizer, losses=losses)
        if progress:
            progress(epoch + 1, epochs, losses.get("ner", 0.0))
    precision, recall = _score(nlp, dev)
    out.mkdir(parents=True, exist_ok=True)
    nlp.meta.update({"name": "gateway_notes_ner", "description": "Names in case notes (synthetic training)"})
    nlp.to_disk(out)
    return Trained(out, notes, epochs, time.perf_counter() - started, precision, recall)
