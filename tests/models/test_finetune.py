"""finetune:aisfx: the pretrained network with a new head; frozen blocks stay as shipped, the rest trains."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from earmark.cli import app
from earmark.embeddings.aisfx_net import load_aisfx_net
from earmark.errors import ParameterError
from earmark.models import get_model

from test_networks import detect_and_listen, predicts_the_same_after_loading  # noqa: E402  (tests/models is on the path)


@pytest.fixture
def blocks(rng):
    clips = [(rng.random((2, 100, 96), dtype=np.float32) * 0.3 + 0.2 * (k % 2)) for k in range(10)]
    return clips, np.array(["a", "b"] * 5)


def test_parameter_counts_follow_what_trains():
    pretrained = load_aisfx_net()
    block4 = sum(p.numel() for p in pretrained.conv_block4.parameters())
    counts = {t: get_model("finetune:aisfx", train=t).parameter_count((100, 96), 10) for t in ("head", "last", "all")}
    assert counts["head"] == 512 * 10 + 10
    assert counts["last"] == block4 + counts["head"]
    assert counts["all"] == sum(p.numel() for p in pretrained.parameters()) + counts["head"]


def test_frozen_blocks_keep_their_weights_and_statistics_and_the_last_block_trains(blocks):
    clips, y = blocks
    m = get_model("finetune:aisfx", max_epochs=4, validation_fraction=0.0).fit(clips, y)
    losses = [e["loss"] for e in m.history_["epochs"]]
    assert len(losses) == 4 and losses[-1] < 0.5 * losses[0]  # it overfits the tiny batch
    shipped = load_aisfx_net().state_dict()
    tuned = m.network_.state_dict()
    for name in ("conv_block1", "conv_block2", "conv_block3"):
        for k, v in shipped.items():
            if k.startswith(name):
                index = ("conv_block1", "conv_block2", "conv_block3").index(name) + 1  # frozen = (prepare, block1..3)
                torch.testing.assert_close(tuned[f"frozen.{index}.{k[len(name) + 1:]}"], v, rtol=0, atol=0)
    assert not torch.equal(tuned["tail.blocks.0.conv2.weight"], shipped["conv_block4.conv2.weight"])
    torch.testing.assert_close(tuned["tail.blocks.0.bn2.running_mean"], shipped["conv_block4.bn2.running_mean"], rtol=0, atol=0)
    assert m.history_["frozen_outputs_cached"] is True


def test_pretrained_blocks_learn_more_slowly_than_the_new_head():
    from earmark.models.finetune import BACKBONES, build_finetune_net

    net = build_finetune_net(BACKBONES["aisfx"], 3, "last", 0.3, 0.1)
    groups = net.param_groups(1e-3)
    assert [g["lr"] for g in groups] == [1e-3, pytest.approx(1e-4)]
    assert sum(p.numel() for g in groups for p in g["params"]) == sum(p.numel() for p in net.parameters() if p.requires_grad)


def test_specaugment_trains_through_the_frozen_blocks(blocks):
    clips, y = blocks
    m = get_model("finetune:aisfx", train="head", max_epochs=1, augment="specaugment", validation_fraction=0.0).fit(clips, y)
    assert "frozen_outputs_cached" not in m.history_
    proba = m.predict_proba(clips)
    assert proba.shape == (10, 2) and np.allclose(proba.sum(axis=1), 1)


def test_windows_of_another_front_end_are_refused_with_the_fix():
    with pytest.raises(ParameterError, match="takes 'aisfx-mel' windows of shape \\(100, 96\\).*Train it on the 'aisfx-mel' front end"):
        get_model("finetune:aisfx", max_epochs=1).fit([np.zeros((1, 512))] * 4, ["a", "b"] * 2)


def test_finetune_runs_through_train_predict_detect_listen(demo_subset, cache_dir, tmp_path):
    runner = CliRunner()
    model = tmp_path / "ft.earmark"
    r = runner.invoke(app, ["train", str(demo_subset), "--model", "finetune:aisfx", "--max-epochs", "2", "--augment", "gain,copies=1",
                            "--out", str(model), "--cache-dir", str(cache_dir)])
    assert r.exit_code == 0, r.output
    assert "on aisfx-mel features: 9 clips" in r.output
    meta = json.loads(zipfile.ZipFile(model).read("earmark.json"))
    assert meta["model"]["name"] == "finetune:aisfx" and meta["model"]["params"]["augment"] == "gain,copies=1"
    assert meta["parts"]["weights"]["format"] == "safetensors"
    clips = sorted(demo_subset.glob("*.flac"))
    predicts_the_same_after_loading(model, clips[:2], tmp_path)
    detect_and_listen(model, clips[:4], tmp_path)


def test_layer_wise_decay_lowers_each_block_s_rate_below_the_one_above_it():
    from earmark.models.finetune import BACKBONES, build_finetune_net

    net = build_finetune_net(BACKBONES["aisfx"], 3, "3", 0.3, 0.1, layer_decay=0.5)
    rates = [g["lr"] for g in net.param_groups(1e-3)]
    assert rates == [1e-3, pytest.approx(1e-4), pytest.approx(5e-5), pytest.approx(2.5e-5)]  # head, block 4, 3, 2
    assert sum(p.numel() for g in net.param_groups(1e-3) for p in g["params"]) == sum(p.numel() for p in net.parameters() if p.requires_grad)
    with pytest.raises(ParameterError, match="option train=7 must be one of head, last, all .* or a number of top blocks, 0 to 4"):
        get_model("finetune:aisfx", train=7).check_params()


def test_lp_ft_trains_the_head_alone_first_then_the_blocks_it_claims(blocks):
    from earmark.models.finetune import BACKBONES, build_finetune_net, linear_probe
    from earmark.models.training import TrainSettings

    clips, y = blocks
    x = np.concatenate(clips)
    labels = np.repeat((y == "b").astype(int), 2)
    torch.manual_seed(0)
    net = build_finetune_net(BACKBONES["aisfx"], 2, "last", 0.0, 0.1)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    history = linear_probe(net, x, labels, np.repeat(np.arange(10), 2), 2, TrainSettings(validation_fraction=0.0), epochs=3,
                           is_copy=np.zeros(len(x), bool))
    after = net.state_dict()
    assert len(history["epochs"]) == 3
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert changed == {"tail.head.1.weight", "tail.head.1.bias"}  # the probe moves the head and nothing else

    m = get_model("finetune:aisfx", lp_epochs=2, max_epochs=2, validation_fraction=0.0).fit(clips, y)
    assert len(m.history_["linear_probe"]["epochs"]) == 2 and len(m.history_["epochs"]) == 2
    shipped = load_aisfx_net().state_dict()
    tuned = m.network_.state_dict()
    torch.testing.assert_close(tuned["frozen.3.conv1.weight"], shipped["conv_block3.conv1.weight"], rtol=0, atol=0)
    assert not torch.equal(tuned["tail.blocks.0.conv2.weight"], shipped["conv_block4.conv2.weight"])  # then the last block trains
