"""The block-causal action-conditioned predictor and its teacher-forcing and rollout losses."""

from dataclasses import replace

import pytest
import torch
import torch.nn.functional as F

from jepa_sim.losses import ac_losses, l1, rollout_loss, teacher_forcing_loss
from jepa_sim.predictor import ACPredictor, PredictorConfig, block_causal_mask
from jepa_sim.predictor.model import attend

CFG = PredictorConfig(token_dim=8, grid=(2, 2), width=16, depth=2, heads=2, max_steps=6)


def inputs(batch=2, steps=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(batch, steps, 4, 8, generator=g)
    return z, torch.randn(batch, steps, 7, generator=g), torch.randn(batch, steps, 7, generator=g)


@pytest.fixture(params=[(1, False), (2, False), (2, True)], ids=["merge1", "merge2", "merge2-residual"])
def model(request):
    torch.manual_seed(0)
    merge, residual = request.param
    model = ACPredictor(replace(CFG, merge=merge, residual=residual)).eval()
    if residual:  # its head starts at zero (a copy-last-frame predictor); give it something to say
        torch.nn.init.normal_(model.out.weight, std=0.1)
    return model


def test_a_fresh_residual_predictor_copies_the_last_frame_until_trained():
    model = ACPredictor(replace(CFG, merge=2, residual=True))
    z, a, s = inputs()
    with torch.no_grad():
        torch.testing.assert_close(model(z, a, s), z)
        torch.testing.assert_close(model.rollout(z[:, 0], a, s), z[:, :1].expand_as(z))


def test_inputs_are_standardised_with_the_stored_statistics():
    torch.manual_seed(0)
    model = ACPredictor(CFG).eval()
    z, a, s = inputs()
    scaled = ACPredictor(CFG).eval()
    scaled.load_state_dict(model.state_dict())
    # sample actions 0 and 2 (mean 1, std sqrt 2), sample states 1 and 3 (mean 2, std sqrt 2)
    scaled.set_input_stats(torch.tensor([[0.0] * 7, [2.0] * 7]), torch.tensor([[1.0] * 7, [3.0] * 7]))
    with torch.no_grad():
        expected = model(z, (a - 1) / 2**0.5, (s - 2) / 2**0.5)
        torch.testing.assert_close(scaled(z, a, s), expected)


def test_fold_groups_grid_squares_and_unfold_inverts_it():
    m = ACPredictor(PredictorConfig(token_dim=3, grid=(4, 6), width=8, depth=1, heads=2, merge=2))
    z = torch.randn(2, 5, 24, 3)
    folded = m.fold(z)
    assert folded.shape == (2, 5, 6, 12)
    grid = z.view(2, 5, 4, 6, 3)
    # merged token 4 is square (row 1, col 1): grid rows 2-3, cols 2-3, row-major
    expected = torch.cat([grid[:, :, 2, 2], grid[:, :, 2, 3], grid[:, :, 3, 2], grid[:, :, 3, 3]], dim=-1)
    torch.testing.assert_close(folded[:, :, 4], expected)
    torch.testing.assert_close(m.unfold(folded), z)
    with pytest.raises(ValueError, match="divisible"):
        PredictorConfig(token_dim=3, grid=(4, 6), merge=4)


def test_mask_is_block_causal():
    mask = block_causal_mask(3, 2)
    expected = torch.tensor([[1, 1, 0, 0, 0, 0]] * 2 + [[1, 1, 1, 1, 0, 0]] * 2 + [[1] * 6] * 2, dtype=torch.bool)
    assert torch.equal(mask, expected)


@pytest.mark.parametrize("changed", ["z", "action", "state"])
def test_a_later_step_never_changes_an_earlier_output(model, changed):
    z, a, s = inputs()
    with torch.no_grad():
        before = model(z, a, s)
        z2, a2, s2 = z.clone(), a.clone(), s.clone()
        {"z": z2, "action": a2, "state": s2}[changed][:, 2] += 3.0
        after = model(z2, a2, s2)
    torch.testing.assert_close(after[:, :2], before[:, :2], rtol=0, atol=1e-6)
    assert not torch.allclose(after[:, 2], before[:, 2])


def test_cached_steps_equal_the_full_pass(model):
    z, a, s = inputs()
    with torch.no_grad():
        full = model(z, a, s)
        cache = None
        for t in range(4):
            out, cache = model.step(z[:, t], a[:, t], s[:, t], cache)
            torch.testing.assert_close(out, full[:, t], rtol=1e-5, atol=1e-5)


def test_a_shared_history_expands_to_many_candidates(model):
    z, a, s = inputs(batch=1)
    with torch.no_grad():
        _, cache = model.step(z[:, 0], a[:, 0], s[:, 0])
        candidates = torch.randn(5, 7)
        shared = model.step(z[:, 1].expand(5, -1, -1), candidates, s[:, 1].expand(5, -1), cache.expand(5))[0]
        for i in range(5):
            a_i = a[:, :2].clone()
            a_i[:, 1] = candidates[i]
            torch.testing.assert_close(shared[i], model(z[:, :2], a_i, s[:, :2])[0, 1], rtol=1e-5, atol=1e-5)


def test_bad_shapes_are_named(model):
    z, a, s = inputs()
    with pytest.raises(ValueError, match="tokens must be"):
        model(z[..., :5], a, s)
    with pytest.raises(ValueError, match="actions and states"):
        model(z, a[:, :3], s)
    with pytest.raises(ValueError, match="max_steps"):
        model(*inputs(steps=7))


def constant_predictor(value: float) -> ACPredictor:
    model = ACPredictor(CFG)
    with torch.no_grad():
        model.out.weight.zero_()
        model.out.bias.fill_(value)
    return model


def test_losses_match_hand_computed_numbers():
    assert l1(torch.tensor([[1.0, 2.0], [3.0, 4.0]]), torch.tensor([[0.0, 2.0], [5.0, 4.0]])).item() == 0.75
    z = torch.zeros(1, 3, 4, 8)
    z[:, 1] = 1.0  # frame 1 all ones, frame 2 all threes
    z[:, 2] = 3.0
    model = constant_predictor(2.0)  # predicts 2 everywhere
    a, s = torch.zeros(1, 2, 7), torch.zeros(1, 3, 7)
    assert teacher_forcing_loss(model, z, a, s).item() == pytest.approx(1.0)  # |2-1| and |2-3|
    assert rollout_loss(model, z, a, s, steps=1).item() == pytest.approx(1.0)  # frame 1 only
    assert rollout_loss(model, z, a, s, steps=2).item() == pytest.approx(1.0)
    losses = ac_losses(constant_predictor(0.0), z, a, s)
    assert losses["teacher_forcing"].item() == pytest.approx(2.0)  # (1 + 3) / 2
    assert losses["loss"].item() == pytest.approx(4.0)


def test_rollout_feeds_back_the_models_own_prediction(model):
    z, a, s = inputs(steps=3)
    actions = a[:, :2]
    with torch.no_grad():
        p1 = model(z[:, :1], actions[:, :1], s[:, :1])[:, 0]
        own = model(torch.stack([z[:, 0], p1], 1), actions, s[:, :2])[:, 1]
        teacher = model(z[:, :2], actions, s[:, :2])[:, 1]
        expected = l1(torch.stack([p1, own], 1), z[:, 1:3])
        assert rollout_loss(model, z, actions, s, steps=2).item() == pytest.approx(expected.item(), abs=1e-6)
        assert not torch.allclose(own, teacher)  # it is not the teacher-forced prediction


def test_gradients_reach_every_parameter():
    torch.manual_seed(1)
    model = ACPredictor(CFG)
    z, a, s = inputs()
    ac_losses(model, z, a[:, :3], s)["loss"].backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())


def test_rollout_needs_long_enough_clips(model):
    z, a, s = inputs(steps=2)
    with pytest.raises(ValueError, match="at least 3 frames"):
        rollout_loss(model, z, a[:, :1], s, steps=2)


def test_imagine_shares_the_observed_history_across_candidates(model):
    z, a, s = inputs(batch=1, steps=5)
    candidates, future = torch.randn(6, 3, 7), torch.randn(6, 3, 7)
    future[:, 0] = s[0, 2]  # the current state
    with torch.no_grad():
        observed = model.observe(z[0, :3], a[0, :2], s[0, :3])
        imagined = model.imagine(observed, candidates, future)
        assert imagined.shape == (6, 3, 4, 8)
        for i in range(6):
            # the same thing the slow way: the whole history re-fed for this one candidate
            expected = []
            hist_z, hist_a, hist_s = z[:, :3], torch.cat([a[:, :2], candidates[i : i + 1, :1]], 1), s[:, :3]
            for h in range(3):
                nxt = model(hist_z, hist_a, hist_s)[:, -1]
                expected.append(nxt[0])
                if h < 2:
                    hist_z = torch.cat([hist_z, nxt[:, None]], 1)
                    hist_a = torch.cat([hist_a, candidates[i : i + 1, h + 1 : h + 2]], 1)
                    hist_s = torch.cat([hist_s, future[i : i + 1, h + 1 : h + 2]], 1)
            torch.testing.assert_close(imagined[i], torch.stack(expected), rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match="a history of 3 frames"):
        model.observe(z[0, :3], a[0, :1], s[0, :3])
    with pytest.raises(ValueError, match="start at the current state"):
        model.imagine(observed, candidates, future + 1.0)


def test_the_written_out_attention_equals_the_fused_kernel():
    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(3, 2, n, 8, generator=g) for n in (5, 9, 9))
    torch.testing.assert_close(attend(q, k, v), F.scaled_dot_product_attention(q, k, v), rtol=1e-5, atol=1e-6)


def test_folded_rollouts_hold_the_same_numbers_in_the_predictors_token_order(model):
    z, a, s = inputs(batch=3, steps=3)
    with torch.no_grad():
        unfolded = model.rollout(z[:, 0], a, s)
        folded = model.rollout_folded(model.fold(z[:, 0]), a, s)
        assert torch.equal(model.unfold(folded), unfolded)
        # a frame broadcast to every candidate is folded once and stays broadcast
        shared = z[:1, 0].expand(3, -1, -1)
        assert model.fold_batch(shared).stride(0) == 0
        # (embedded once rather than per candidate: the same up to the rounding of a smaller matrix product)
        torch.testing.assert_close(model.rollout(shared, a, s), model.rollout(shared.contiguous(), a, s))
        observed = model.observe(z[0, :1], a[0, :0], s[0, :1])
        future = s.clone()
        future[:, 0] = s[0, 0]
        assert torch.equal(model.unfold(model.imagine_folded(observed, a, future)), model.imagine(observed, a, future))
    with pytest.raises(ValueError, match="folded tokens must be"):
        model.rollout_folded(z[:, 0], a, s) if model.config.merge > 1 else model.rollout_folded(z[:, 0, :3], a, s)
    with pytest.raises(ValueError, match="actions and states must be"):
        model.rollout_folded(model.fold(z[:, 0]), a[:2], s)
