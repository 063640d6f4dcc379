"""GFLA's custom CUDA operations in standard PyTorch, against loop versions written from the kernels' per-pixel
formulas, in double precision on small random inputs: values, and the flow gradients autograd gives."""
import math

import pytest
import torch

from augreid.models.gfla_ops import block_extractor, local_attn_reshape, resample2d

D = dict(dtype=torch.float64)


def _clamp(i: int, size: int) -> int:
    return max(min(i, size - 1), 0)


def block_extractor_loop(source, flow, k):
    """The kernel: for every output pixel, bilinear weights from the fractional part, indices clamped."""
    b_, c_, hs, ws = source.shape
    h, w = flow.shape[-2:]
    out = [[[[None] * (k * w) for _ in range(k * h)] for _ in range(c_)] for _ in range(b_)]
    for b in range(b_):
        for y in range(k * h):
            for x in range(k * w):
                cy, cx = y // k, x // k
                py = flow[b, 1, cy, cx] + (y % k - k // 2) + cy
                px = flow[b, 0, cy, cx] + (x % k - k // 2) + cx
                fy, fx = math.floor(py.item()), math.floor(px.item())
                ay, ax = py - fy, px - fx
                top, bottom, left, right = _clamp(fy, hs), _clamp(fy + 1, hs), _clamp(fx, ws), _clamp(fx + 1, ws)
                for c in range(c_):
                    out[b][c][y][x] = ((1 - ax) * (1 - ay) * source[b, c, top, left] + ax * (1 - ay) * source[b, c, top, right]
                                       + (1 - ax) * ay * source[b, c, bottom, left] + ax * ay * source[b, c, bottom, right])
    return torch.stack([torch.stack([torch.stack([torch.stack(row) for row in ch]) for ch in batch]) for batch in out])


def resample2d_loop(source, flow, sigma=2.0):
    """The kernel with kernel_size 4, dilation 1: neighbours floor(p) - {0, 1} and floor(p) + {1, 2}, Gaussian
    weights of the unclamped distances, clamped indices, normalised."""
    b_, c_, h, w = source.shape
    rows = []
    for b in range(b_):
        channels = []
        for c in range(c_):
            pixels = []
            for y in range(h):
                for x in range(w):
                    px, py = x + flow[b, 0, y, x], y + flow[b, 1, y, x]
                    fx, fy = math.floor(px.item()), math.floor(py.item())
                    alpha, beta = px - fx, py - fy
                    value, total = 0.0, 0.0
                    for f in range(2):
                        for g in range(2):
                            terms = [((fy - f, f + beta), (fx - g, g + alpha)), ((fy - f, f + beta), (fx + g + 1, 1 + g - alpha)),
                                     ((fy + f + 1, 1 + f - beta), (fx - g, g + alpha)),
                                     ((fy + f + 1, 1 + f - beta), (fx + g + 1, 1 + g - alpha))]
                            for (iy, dy), (ix, dx) in terms:
                                weight = torch.exp(-dy * dy / (2 * sigma ** 2)) * torch.exp(-dx * dx / (2 * sigma ** 2))
                                value = value + weight * source[b, c, _clamp(iy, h), _clamp(ix, w)]
                                total = total + weight
                    pixels.append(value / total)
            channels.append(torch.stack(pixels).view(h, w))
        rows.append(torch.stack(channels))
    return torch.stack(rows)


@pytest.mark.parametrize("k", [3, 2])
def test_block_extractor_matches_the_kernel_in_values_and_flow_gradients(k):
    torch.manual_seed(0)
    source = torch.randn(2, 3, 5, 4, **D)
    flow = (torch.randn(2, 2, 5, 4, **D) * 2.5).requires_grad_()  # some samples fall beyond the border
    weights = torch.randn(2, 3, 5 * k, 4 * k, **D)
    fast = block_extractor(source, flow, k)
    slow = block_extractor_loop(source, flow, k)
    torch.testing.assert_close(fast, slow, rtol=0, atol=1e-12)
    (grad_fast,) = torch.autograd.grad((fast * weights).sum(), flow)
    (grad_slow,) = torch.autograd.grad((slow * weights).sum(), flow)
    torch.testing.assert_close(grad_fast, grad_slow, rtol=0, atol=1e-12)
    assert grad_fast.abs().sum() > 0


def test_block_extractor_with_zero_flow_extracts_the_neighbourhood():
    source = torch.arange(20.0, **D).view(1, 1, 5, 4)
    blocks = block_extractor(source, torch.zeros(1, 2, 5, 4, **D), 3)
    torch.testing.assert_close(blocks[0, 0, 6:9, 3:6], source[0, 0, 1:4, 0:3])  # the 3x3 around (2, 1)


def test_local_attn_reshape_lays_each_position_out_as_a_block():
    torch.manual_seed(0)
    k = 3
    weights = torch.randn(2, k * k, 4, 5, **D)
    out = local_attn_reshape(weights, k)
    assert out.shape == (2, 1, 12, 15)
    for y in range(12):
        for x in range(15):
            assert torch.equal(out[:, 0, y, x], weights[:, (y % k) * k + x % k, y // k, x // k])


def test_resample2d_matches_the_kernel_in_values_and_flow_gradients():
    torch.manual_seed(1)
    source = torch.randn(1, 2, 5, 4, **D)
    flow = (torch.randn(1, 2, 5, 4, **D) * 1.5).requires_grad_()
    weights = torch.randn(1, 2, 5, 4, **D)
    fast, slow = resample2d(source, flow), resample2d_loop(source, flow)
    torch.testing.assert_close(fast, slow, rtol=0, atol=1e-12)
    (grad_fast,) = torch.autograd.grad((fast * weights).sum(), flow)
    (grad_slow,) = torch.autograd.grad((slow * weights).sum(), flow)
    torch.testing.assert_close(grad_fast, grad_slow, rtol=0, atol=1e-12)
    assert grad_fast.abs().sum() > 0


def test_resample2d_is_a_blur_not_a_bilinear_warp():
    source = torch.zeros(1, 1, 7, 7, **D)
    source[0, 0, 3, 3] = 1.0
    out = resample2d(source, torch.zeros(1, 2, 7, 7, **D))
    assert 0 < out[0, 0, 3, 3] < 1 and out[0, 0, 3, 2] > 0  # zero flow still spreads the impulse
