"""A tiny, randomly initialised MarianMT model and tokenizer, built offline in about a second.

Its translations are nonsense, but it runs the real code path of the `marian` backend (the
tokenizer, batched beam search, decoding, save_pretrained/from_pretrained, CTranslate2's
conversion), so tests and benchmarks use it instead of a download. With `OPUS_MT_SIZE` it has
the layer sizes and vocabulary size of Helsinki-NLP/opus-mt-de-en (random weights, about 74
million parameters): the same work per token, for speed benchmarks. Needs the `marian` extra.
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
# Ids as in the Helsinki-NLP models: </s> 0, <unk> 1, the pieces, and <pad> last (the id the
# decoder starts from; CTranslate2's converter drops that last row, see text.marian_ct2).
SPECIAL_TOKENS = ("</s>", "<unk>")
PAD_TOKEN = "<pad>"
TINY_SIZE = dict(d_model=32, layers=1, heads=2, ffn=64, vocab_size=None)
# Helsinki-NLP/opus-mt-de-en's config.json: 6 + 6 layers of width 512, 8 heads, 58,101 tokens.
OPUS_MT_SIZE = dict(d_model=512, layers=6, heads=8, ffn=2048, vocab_size=58101)


def build_tiny_marian(folder: Path, seed: int = 0, size: dict = TINY_SIZE) -> Path:
    """Write a random MarianMT model (TINY_SIZE or OPUS_MT_SIZE) and its tokenizer to `folder`
    (save_pretrained layout). A vocabulary larger than the tokenizer's pieces is filled with
    placeholder tokens that the tokenizer never produces."""
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
    while size["vocab_size"] and len(vocab) < size["vocab_size"] - 1:
        vocab[f"<unused{len(vocab)}>"] = len(vocab)
    vocab[PAD_TOKEN] = len(vocab)
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
        d_model=size["d_model"],
        encoder_layers=size["layers"],
        decoder_layers=size["layers"],
        encoder_attention_heads=size["heads"],
        decoder_attention_heads=size["heads"],
        encoder_ffn_dim=size["ffn"],
        decoder_ffn_dim=size["ffn"],
        max_position_embeddings=512 if size["vocab_size"] else 128,
        init_std=0.5 if size is TINY_SIZE else 0.02,  # tiny: different inputs, different outputs
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        decoder_start_token_id=tokenizer.pad_token_id,
        forced_eos_token_id=tokenizer.eos_token_id,
    )
    torch.manual_seed(seed)
    MarianMTModel(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder
