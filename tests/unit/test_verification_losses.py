"""Each verification loss against its published formula, on tiny hand-computed inputs."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from src.errors import ConfigError
from src.losses.contrastive import balanced_pair_indices, hadsell_contrastive
from tests.conftest import CONF

# four 2-D embeddings, identities 0, 0, 1, 1
EMB = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 2.0], [0.5, 0.5]])
LABELS = torch.tensor([0, 0, 1, 1])


def make(name, metric="euclidean", **kw):
    """The loss of conf/model/loss/<name>.yaml with `kw` overriding its keys, as the verifier completes it."""
    import yaml
    from hydra.utils import instantiate

    node = {**yaml.safe_load((Path(CONF) / "model" / "loss" / f"{name}.yaml").read_text()), **kw}
    return instantiate(node)(distance=metric, embedding_size=2)


def euclid(i, j):
    return float((EMB[i] - EMB[j]).norm())


def test_hadsell_formula_by_hand():
    # D = 0.5 similar: ½·0.25; D = 0.3 dissimilar: ½·(1 − 0.3)²; D = 1.5 dissimilar beyond the margin: 0
    d = torch.tensor([0.5, 0.3, 1.5])
    same = torch.tensor([True, False, False])
    expected = (0.5 * 0.25 + 0.5 * 0.49 + 0.0) / 3
    assert float(hadsell_contrastive(d, same, margin=1.0)) == pytest.approx(expected)


def test_contrastive_pairs_are_balanced():
    labels = torch.tensor([0, 0, 1, 1, 2, 2, 3, 3])  # 4 positive pairs, 24 negative pairs
    i, j, same = balanced_pair_indices(labels, torch.Generator().manual_seed(0))
    assert int(same.sum()) == 4 and int((~same).sum()) == 4
    assert bool((labels[i] == labels[j]).eq(same).all()) and bool((i < j).all())


def test_contrastive_loss_on_a_batch_matches_the_formula():
    torch.manual_seed(0)
    loss = make("contrastive", margin=1.0)
    out = loss(EMB, LABELS)
    # positives (0,1) D=1 and (2,3) D=√(0.25+2.25); two of the four negatives are sampled
    pos = [0.5 * euclid(0, 1) ** 2, 0.5 * euclid(2, 3) ** 2]
    negs = {(a, b): 0.5 * max(0.0, 1.0 - euclid(a, b)) ** 2 for a in (0, 1) for b in (2, 3)}
    candidates = [(sum(pos) + negs[p] + negs[q]) / 4 for p in negs for q in negs if p < q]
    assert any(float(out["loss"]) == pytest.approx(c) for c in candidates)


def test_triplet_all_is_mean_over_nonzero_triplets():
    m = 1.0
    terms = []
    for a in range(4):
        for p in range(4):
            if p == a or LABELS[p] != LABELS[a]:
                continue
            for n in range(4):
                if LABELS[n] != LABELS[a]:
                    terms.append(max(0.0, euclid(a, p) - euclid(a, n) + m))
    nonzero = [t for t in terms if t > 0]
    expected = sum(nonzero) / len(nonzero)
    assert float(make("triplet", margin=m, mining="all")(EMB, LABELS)["loss"]) == pytest.approx(
        expected, rel=1e-5
    )


def test_triplet_batch_hard_is_mean_over_anchors():
    m = 0.5
    terms = []
    for a in range(4):
        hardest_pos = max(euclid(a, p) for p in range(4) if p != a and LABELS[p] == LABELS[a])
        hardest_neg = min(euclid(a, n) for n in range(4) if LABELS[n] != LABELS[a])
        terms.append(max(0.0, hardest_pos - hardest_neg + m))
    expected = sum(terms) / len(terms)
    assert float(make("triplet", margin=m, mining="hard")(EMB, LABELS)["loss"]) == pytest.approx(
        expected, rel=1e-5
    )


def test_triplet_multisimilarity_mines_pairs_near_the_hardest_opposite():
    # Wang et al. 2019: a positive is kept when closer than ε to the nearest negative (d + ε > min d_neg),
    # a negative when within ε of the farthest positive (d − ε < max d_pos); triplets from the kept pairs
    m, eps = 0.5, 0.1
    terms = []
    for a in range(4):
        pos = [p for p in range(4) if p != a and LABELS[p] == LABELS[a]]
        neg = [n for n in range(4) if LABELS[n] != LABELS[a]]
        kept_p = [p for p in pos if euclid(a, p) + eps > min(euclid(a, n) for n in neg)]
        kept_n = [n for n in neg if euclid(a, n) - eps < max(euclid(a, p) for p in pos)]
        terms += [max(0.0, euclid(a, p) - euclid(a, n) + m) for p in kept_p for n in kept_n]
    nonzero = [t for t in terms if t > 0]
    assert 0 < len(nonzero) < 8  # some triplets are mined away: the miner is in the loop
    loss = make("triplet", margin=m, mining="multisimilarity", miner_epsilon=eps)(EMB, LABELS)["loss"]
    assert float(loss) == pytest.approx(sum(nonzero) / len(nonzero), rel=1e-5)


def margin_softmax_reference(emb, labels, w, scale, target_logit):
    """Cross-entropy of s·cos(θ_j) with the target class's logit replaced by `target_logit(cos θ)`."""
    cos = torch.nn.functional.normalize(emb, dim=1) @ torch.nn.functional.normalize(w, dim=0)
    logits = cos.clone()
    rows = torch.arange(len(labels))
    logits[rows, labels] = target_logit(cos[rows, labels])
    return float(torch.nn.functional.cross_entropy(scale * logits, labels))


def test_arcface_formula():
    loss = make("arcface", margin=0.5, scale=10.0, num_classes=2)
    w = torch.tensor([[1.0, 0.2], [0.1, 1.0]])  # embedding_size × num_classes, as in PML
    loss.fn.W.data.copy_(w)
    expected = margin_softmax_reference(
        EMB[1:], LABELS[1:], w, 10.0, lambda c: torch.cos(torch.acos(c) + 0.5)
    )
    assert float(loss(EMB[1:], LABELS[1:])["loss"]) == pytest.approx(expected, rel=1e-5)


def test_cosface_formula():
    loss = make("cosface", margin=0.35, scale=10.0, num_classes=2)
    w = torch.tensor([[1.0, 0.2], [0.1, 1.0]])
    loss.fn.W.data.copy_(w)
    expected = margin_softmax_reference(EMB[1:], LABELS[1:], w, 10.0, lambda c: c - 0.35)
    assert float(loss(EMB[1:], LABELS[1:])["loss"]) == pytest.approx(expected, rel=1e-5)


def test_ntxent_formula():
    tau = 0.5
    labels = [0, 1, 1, 0]
    e = torch.nn.functional.normalize(torch.tensor([[1.0, 0.0], [0.0, 2.0], [0.5, 0.5], [2.0, 0.3]]), dim=1)
    s = (e @ e.T).tolist()
    terms = []
    for i in range(4):
        for p in range(4):
            if p != i and labels[p] == labels[i]:
                negs = sum(math.exp(s[i][n] / tau) for n in range(4) if labels[n] != labels[i])
                terms.append(-math.log(math.exp(s[i][p] / tau) / (math.exp(s[i][p] / tau) + negs)))
    expected = sum(terms) / len(terms)
    out = make("ntxent", metric="cosine", temperature=tau)(e, torch.tensor(labels))
    assert float(out["loss"]) == pytest.approx(expected, rel=1e-5)


def test_supcon_formula():
    tau = 0.3
    labels = [0, 1, 1, 0]
    e = torch.nn.functional.normalize(torch.tensor([[1.0, 0.0], [0.0, 2.0], [0.5, 0.5], [2.0, 0.3]]), dim=1)
    s = (e @ e.T).tolist()
    per_anchor = []
    for i in range(4):
        denom = sum(math.exp(s[i][a] / tau) for a in range(4) if a != i)
        pos = [p for p in range(4) if p != i and labels[p] == labels[i]]
        per_anchor.append(-sum(math.log(math.exp(s[i][p] / tau) / denom) for p in pos) / len(pos))
    expected = sum(per_anchor) / len(per_anchor)
    out = make("supcon", metric="cosine", temperature=tau)(e, torch.tensor(labels))
    assert float(out["loss"]) == pytest.approx(expected, rel=1e-5)


def test_usual_values_live_in_each_loss_yaml_and_bad_values_name_the_key():
    assert make("contrastive").fn.margin == 1.0 and make("triplet").fn.margin == 0.2
    assert make("arcface").margin == 0.5 and make("cosface").margin == 0.35 and make("cosface").scale == 30
    assert make("ntxent").fn.temperature == 0.1 and make("triplet").miner is None  # batch-all
    with pytest.raises(ConfigError, match="mining"):
        make("triplet", mining="semi")
    with pytest.raises(ConfigError, match="margin"):
        make("contrastive", margin=-1)
    with pytest.raises(ConfigError, match="margin"):
        make("arcface", margin=2.0)  # radians
    with pytest.raises(ConfigError, match="temperature"):
        make("supcon", temperature=0)
    with pytest.raises(TypeError, match="margin"):
        make("ntxent", margin=0.2)  # each loss takes only its own keys


def test_arcface_weights_are_trained(tmp_path):
    """The class centres are parameters of the LightningModule, so the shared optimizer updates them."""
    from src.runtime.config.instantiate import build
    from tests.conftest import make_cfg

    overrides = [
        "model=siamese",
        "model/loss=arcface",
        "model.loss.num_classes=5",
        "model.encoder.widths=[8]",
    ]
    model = build(make_cfg(tmp_path, [*overrides, "model.reductor.dims=[]"]).model, "model")
    w = model.criterion.fn.W
    assert any(p is w for p in model.parameters())
    from src.lightning_modules.optim import param_groups

    grouped = [p for g in param_groups([model], 1e-4) for p in g["params"]]
    assert any(p is w for p in grouped)
