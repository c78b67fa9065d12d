"""Text models: the registry's common checks on token ids, padding handling, hf:<dir>, default spaces."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from autoopt.data import load_data
from autoopt.data._bundle import DatasetMeta
from autoopt.exceptions import InvalidSpecError
from autoopt.models import build_model, default_space, list_models
from autoopt.models._text import TEXT_MODELS
from autoopt.testing.text import make_hf_checkpoint, write_text_csv

VOCAB, LENGTH = 50, 12
BUILT_IN = sorted(n for n in TEXT_MODELS if n in list_models() and n != "hf")  # hf needs a checkpoint
SMALL = {"transformer": {"layers": 1, "hidden": 16, "heads": 2}}


def text_meta(num_classes: int = 4) -> DatasetMeta:
    meta = DatasetMeta("toy", "classification", (LENGTH,), num_classes=num_classes)
    meta.extra["tokenizer"] = {"kind": "wordpiece", "vocab_size": VOCAB, "max_length": LENGTH, "pad_id": 0}
    return meta


def ids(batch: int = 3, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    x = torch.randint(4, VOCAB, (batch, LENGTH), generator=g)
    x[:, 0] = 2
    x[1, 6:] = 0  # a padded row
    return x


@pytest.fixture(params=BUILT_IN)
def name(request: pytest.FixtureRequest) -> str:
    return request.param


def test_forward_backward_and_interface(name: str) -> None:
    model = build_model(name, SMALL.get(name, {}), text_meta())
    x = ids()
    out = model(x)
    assert out.shape == (3, 4) and torch.isfinite(out).all()
    torch.nn.functional.cross_entropy(out, torch.tensor([0, 1, 2])).backward()
    assert all(p.grad is None or torch.isfinite(p.grad).all() for p in model.parameters())
    model.eval()
    torch.testing.assert_close(model.forward_head(model.forward_features(x)), model(x))
    model.reset_classifier(2)
    assert model(x).shape == (3, 2)
    covered = {id(p) for _, m in model.blocks() for p in m.parameters()}
    assert covered == {id(p) for p in model.parameters()}


def test_padding_is_masked(name: str) -> None:
    """More padding at the end of a row does not change its prediction (the mask is ids != 0)."""
    model = build_model(name, SMALL.get(name, {}), text_meta()).eval()
    short = torch.zeros(1, LENGTH, dtype=torch.int64)
    short[0, :5] = torch.tensor([2, 10, 11, 12, 3])
    longer = torch.zeros(1, 2 * LENGTH, dtype=torch.int64)
    longer[0, :5] = short[0, :5]
    if name == "transformer":  # position embeddings stop at max_length: compare at that length only
        longer = short.clone()
        longer[0, 5:] = 0
    with torch.no_grad():
        torch.testing.assert_close(model(short), model(longer), atol=1e-5, rtol=1e-4)


def test_text_models_refuse_image_data(name: str) -> None:
    meta = DatasetMeta("digits", "classification", (1, 8, 8), num_classes=10)
    with pytest.raises(
        InvalidSpecError, match=rf"model.name: '{name}' takes token ids; expected a text dataset"
    ):
        build_model(name, {}, meta)


def test_bad_params_name_the_key() -> None:
    with pytest.raises(
        InvalidSpecError, match=r"model.params.hidden: expected a multiple of heads \(3\); got 16"
    ):
        build_model("transformer", {"hidden": 16, "heads": 3}, text_meta())
    with pytest.raises(InvalidSpecError, match=r"model.params.kernel: expected an odd width; got 4"):
        build_model("cnn1d", {"kernel": 4}, text_meta())


def test_hf_checkpoint_loads_with_its_tokenizer(tmp_path: Path) -> None:
    ckpt = make_hf_checkpoint(tmp_path / "ckpt", num_labels=2)
    csv = tmp_path / "t.csv"
    write_text_csv(csv)
    data = load_data({"name": "text-csv", "path": str(csv), "target": "label",
                      "tokenizer": {"kind": f"hf:{ckpt}", "max_length": 16}})  # fmt: skip
    model = build_model(f"hf:{ckpt}", {}, data.meta).eval()
    x = data.train.x[:4]
    out = model(x)
    assert out.shape == (4, 3)  # the 2-label head was replaced for the data's 3 classes
    assert model.get_classifier().out_features == 3
    assert model.forward_features(x).shape == (4, 32)
    # The checkpoint's own words are known to its tokenizer: no [UNK] (id 1) in the encoded rows.
    assert not (data.train.x == 1).any()


def test_hf_missing_files_are_named(tmp_path: Path) -> None:
    meta = text_meta()
    with pytest.raises(
        InvalidSpecError, match=r"expected a local checkpoint directory after 'hf:'.*not found"
    ):
        build_model(f"hf:{tmp_path / 'nope'}", {}, meta)
    (tmp_path / "empty").mkdir()
    with pytest.raises(
        InvalidSpecError, match=r"is missing config.json, model.safetensors or pytorch_model.bin; expected"
    ):
        build_model(f"hf:{tmp_path / 'empty'}", {}, meta)


def test_hf_refuses_a_tokenizer_with_more_ids_than_it_embeds(tmp_path: Path) -> None:
    ckpt = make_hf_checkpoint(tmp_path / "ckpt")
    meta = text_meta()
    meta.extra["tokenizer"]["vocab_size"] = 10_000
    with pytest.raises(
        InvalidSpecError, match=r"data.tokenizer: gives ids up to 9999, but hf:.* embeds \d+ tokens"
    ):
        build_model(f"hf:{ckpt}", {}, meta)


def test_default_spaces_for_text_models() -> None:
    meta = text_meta()
    space = default_space("transformer", meta, 1000)
    assert {"model.layers", "model.hidden", "model.heads", "model.dropout"} <= set(space)
    assert space["training.lr"]["high"] <= 3e-3 and "warmup-linear" in space["training.schedule"]
    assert {"model.dim", "model.hidden"} <= set(default_space("bag_of_embeddings", meta, 1000))
    hf = default_space("hf:/some/dir", meta, 1000)
    assert not any(k.startswith("model.") for k in hf) and hf["training.lr"]["high"] <= 3e-4
    # every point of the transformer space builds (heads divide every hidden size)
    for hidden in space["model.hidden"]:
        for heads in space["model.heads"]:
            build_model("transformer", {"layers": 1, "hidden": hidden, "heads": heads}, meta)
