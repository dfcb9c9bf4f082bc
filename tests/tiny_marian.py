"""A tiny, randomly initialised MarianMT model and tokenizer, built offline in about a second.

Its translations are nonsense, but it runs the real code path of the `marian` backend (the
tokenizer, batched beam search, decoding, save_pretrained/from_pretrained), so tests and
benchmarks/bench_translate.py use it instead of a download. Needs the `marian` extra.
"""

from __future__ import annotations

import io
import json
import warnings
from pathlib import Path

SENTENCES = [
    "Ein rotes Kleid mit langen Ärmeln und einem V-Ausschnitt.",
    "A red dress with long sleeves and a V-neck.",
    "Das Kleid ist knielang, tailliert und hat eine Knopfleiste.",
    "The dress is knee-length, fitted and has a button placket.",
    "Schwarz, weiß, blau, grün, gelb, rosa, grau und beige.",
    "Black, white, blue, green, yellow, pink, gray and beige.",
    "Ein luftiges Sommerkleid aus Baumwolle mit Blumenmuster.",
    "An airy summer dress of cotton with a floral pattern.",
]
SPECIAL_TOKENS = ("</s>", "<unk>", "<pad>")  # ids 0, 1, 2, as in the Helsinki-NLP models


def build_tiny_marian(folder: Path, seed: int = 0) -> Path:
    """Write a tiny MarianMT model and its tokenizer to `folder` (save_pretrained layout)."""
    import sentencepiece
    import torch
    from transformers import MarianConfig, MarianMTModel, MarianTokenizer

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    model_bytes = io.BytesIO()
    sentencepiece.SentencePieceTrainer.train(
        sentence_iterator=iter(SENTENCES),
        model_writer=model_bytes,
        vocab_size=60,
        model_type="unigram",
        character_coverage=1.0,
        hard_vocab_limit=False,
        num_threads=1,
        minloglevel=2,
        unk_id=0,
        bos_id=-1,
        eos_id=-1,
        pad_id=-1,
    )
    pieces = sentencepiece.SentencePieceProcessor(model_proto=model_bytes.getvalue())
    vocab = {token: index for index, token in enumerate(SPECIAL_TOKENS)}
    for piece in map(pieces.id_to_piece, range(pieces.get_piece_size())):
        vocab.setdefault(piece, len(vocab))
    for name in ("source.spm", "target.spm"):
        (folder / name).write_bytes(model_bytes.getvalue())
    (folder / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    with warnings.catch_warnings():  # optional punctuation normaliser, not used
        warnings.filterwarnings("ignore", message="Recommended: pip install sacremoses")
        tokenizer = MarianTokenizer(
            str(folder / "source.spm"), str(folder / "target.spm"), str(folder / "vocab.json")
        )
    config = MarianConfig(
        vocab_size=len(vocab),
        d_model=32,
        encoder_layers=1,
        decoder_layers=1,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        encoder_ffn_dim=64,
        decoder_ffn_dim=64,
        max_position_embeddings=128,
        init_std=0.5,  # large random weights: different inputs give different outputs
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        decoder_start_token_id=tokenizer.pad_token_id,
        forced_eos_token_id=tokenizer.eos_token_id,
    )
    torch.manual_seed(seed)
    MarianMTModel(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder
