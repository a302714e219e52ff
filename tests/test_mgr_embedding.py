"""MGR's Eq. 1 in the paper's form (issue 17, item 1): E_avail per token, with ViLT's modality-type and position
embeddings, shared by the chapter's transformer, MAPs and MGR."""
import pytest
import torch

from mmlib.methods import make_method
from test_mgr import toy  # tests/ is on sys.path (pytest's prepend mode), as test_cmpt_premise does; site-packages holds another "tests"


def _tokens(method, batch, seed=0):
    generator = torch.Generator().manual_seed(seed)
    tokens = method.encode(batch)
    return {n: torch.randn(t.shape, generator=generator) for n, t in tokens.items()}


@pytest.mark.parametrize("name", ["transformer", "maps", "mgr"])
def test_availability_embedding_is_one_row_per_token(name):
    dataset = toy(n=8)
    method = make_method(name, dataset.spec, d_model=16, num_tokens=4, embedding="paper")
    for modality in dataset.spec.modality_names:
        assert method.available[modality].shape == (1, 4, 16)  # E_avail^i in R^{N_i x d}
        assert method.missing[modality].shape == (1, 4, 16)
        assert method.position[modality].shape == (1, 4, 16)
        assert method.modality_type[modality].shape == (1, 1, 16)


@pytest.mark.parametrize("name, embedding, order_matters", [
    ("transformer", "paper", True), ("maps", "paper", True), ("mgr", "paper", True),
    ("transformer", "modality", False), ("maps", "modality", False)])
def test_the_order_of_a_modality_s_tokens_is_seen_only_with_position_embeddings(name, embedding, order_matters):
    """Swapping two tokens (frames) of a present modality changes the prediction under Eq. 1 with positions; under
    the first form (one vector per modality, no position) the fusion transformer cannot tell (its [CLS] output is
    invariant to the order of its inputs)."""
    torch.manual_seed(0)
    dataset = toy(n=8)
    method = make_method(name, dataset.spec, d_model=16, num_tokens=4, embedding=embedding).eval()
    for parameter in method.parameters():  # learned embeddings away from their initial values
        parameter.data.add_(0.3 * torch.randn_like(parameter))
    batch = dataset.batch()
    tokens = _tokens(method, batch)
    swapped = dict(tokens)
    first = dataset.spec.modality_names[0]
    swapped[first] = tokens[first][:, [1, 0, 2, 3]]
    present = torch.ones_like(batch.present)
    with torch.no_grad():
        before, _ = method.fuse(tokens, present)
        after, _ = method.fuse(swapped, present)
    assert (not torch.allclose(before, after, atol=1e-5)) == order_matters


def test_mgr_defaults_to_the_paper_form_and_the_baseline_keeps_its_own():
    dataset = toy(n=8)
    assert make_method("mgr", dataset.spec, d_model=16).embedding == "paper"
    assert make_method("transformer", dataset.spec, d_model=16).available[dataset.spec.modality_names[0]].shape[1] == 1
    with pytest.raises(ValueError, match="embedding"):
        make_method("transformer", dataset.spec, d_model=16, embedding="per-token")


def test_absent_modality_reads_its_learned_embedding_only():
    """Eq. 1's absence case: an absent modality's input is E_miss (+ type + position), whatever its tokens hold."""
    dataset = toy(n=8)
    method = make_method("transformer", dataset.spec, d_model=16, num_tokens=4, embedding="paper").eval()
    batch = dataset.batch()
    tokens = _tokens(method, batch)
    present = torch.ones_like(batch.present)
    present[:, 1] = False
    noisy = {**tokens, dataset.spec.modality_names[1]: 100 * tokens[dataset.spec.modality_names[1]]}
    assert torch.equal(method.embed(tokens, present), method.embed(noisy, present))
    assert not torch.equal(method.embed(tokens, torch.ones_like(present)), method.embed(noisy, torch.ones_like(present)))
