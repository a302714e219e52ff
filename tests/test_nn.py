"""The shared encoders: a sequence's tokens come from its real frames, whatever the padding."""
import torch

from mmlib.nn import SequenceEncoder, span_weights


def padded(x: torch.Tensor, extra: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``x`` (1 x T x d) followed by ``extra`` random frames that the mask marks as padding, and that mask."""
    frames = torch.cat([x, torch.randn(1, extra, x.shape[2])], 1)
    mask = torch.zeros(1, frames.shape[1], dtype=torch.bool)
    mask[:, : x.shape[1]] = True
    return frames, mask


def test_a_sequence_gives_the_same_tokens_however_far_it_is_padded():
    torch.manual_seed(0)
    encoder = SequenceEncoder(5, 8, num_tokens=4).eval()
    x = torch.randn(1, 10, 5)
    alone = encoder(x)
    for extra in (1, 7, 30):
        assert torch.allclose(encoder(*padded(x, extra)), alone, atol=1e-6)


def test_every_token_of_a_present_sequence_pools_real_frames():
    mask = torch.zeros(3, 40, dtype=torch.bool)
    mask[0, :17], mask[1, :3], mask[2, :] = True, True, True
    weights = span_weights(mask, 20) * mask.unsqueeze(1)
    assert (weights.sum(2) > 0).all()  # no token is all padding, even for 3 frames and 20 tokens
    # the spans of a full sequence tile it, two frames each, in order
    assert torch.equal(weights[2].sum(0), torch.ones(40)) and (weights[2].sum(1) == 2).all()
    assert torch.equal(weights[2].argmax(1), torch.arange(0, 40, 2))


def test_an_absent_sequence_gives_zero_tokens_and_a_dropped_frame_is_not_read():
    torch.manual_seed(0)
    encoder = SequenceEncoder(5, 8, num_tokens=4).eval()
    x = torch.randn(2, 12, 5)
    mask = torch.ones(2, 12, dtype=torch.bool)
    mask[0] = False
    assert torch.equal(encoder(x, mask)[0], torch.zeros(4, 8))
    mask[1, 5] = False
    changed = x.clone()
    changed[1, 5] = 100.0
    assert torch.allclose(encoder(changed, mask), encoder(x, mask))
