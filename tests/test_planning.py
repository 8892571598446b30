"""Planners: they find the minimum of known costs and never leave the action bounds."""

from dataclasses import replace

import pytest
import torch

from jepa_sim.planning import CEM, MPPI, ActionBounds, CEMConfig, MPPIConfig, shift_plan

TARGET = torch.tensor([[0.03, -0.02, 0.05, 0.0, 0.0, 0.0, 0.5], [-0.04, 0.01, 0.0, 0.0, 0.0, 0.0, -0.3]])


def quadratic(actions):
    return ((actions - TARGET) ** 2).sum(dim=(1, 2))


PLANNERS = {
    "cem": lambda: CEM(CEMConfig(horizon=2, samples=200, topk=10, iterations=15)),
    "mppi": lambda: MPPI(MPPIConfig(horizon=2, samples=200, iterations=15)),
}


@pytest.mark.parametrize("name", PLANNERS)
def test_planner_finds_the_minimum_of_a_quadratic(name):
    plan = PLANNERS[name]().plan(quadratic, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(plan.actions, TARGET, atol=5e-3, rtol=0)
    assert plan.costs[-1] < 1e-3 * plan.costs[0]  # the search improved on its first iteration by far
    assert plan.evaluations == 200 * 15


@pytest.mark.parametrize("name", PLANNERS)
def test_every_sampled_action_respects_the_bounds(name):
    bounds = ActionBounds(xyz=0.05, rotation=0.0, gripper=0.75)
    seen = []

    def far_away(actions):  # the optimum lies outside the bounds: samples pile up against them
        seen.append(actions.clone())
        return ((actions - 10.0) ** 2).sum(dim=(1, 2))

    planner = PLANNERS[name]()
    planner.bounds = bounds
    plan = planner.plan(far_away, generator=torch.Generator().manual_seed(1))
    for batch in [*seen, plan.actions[None]]:
        assert batch[..., :3].abs().max() <= 0.05 + 1e-7
        assert torch.all(batch[..., 3:6] == 0)  # rotation held
        assert batch[..., 6].abs().max() <= 0.75 + 1e-7
    torch.testing.assert_close(plan.actions[:, :3], torch.full((2, 3), 0.05), atol=1e-2, rtol=0)


def test_warm_start_is_the_first_candidate_and_shifts_by_one_step():
    warm = TARGET.clone()
    plan = CEM(CEMConfig(horizon=2, samples=8, topk=2, iterations=1)).plan(quadratic, warm=warm)
    assert plan.cost == pytest.approx(0.0, abs=1e-10)
    shifted = shift_plan(TARGET)
    torch.testing.assert_close(shifted, torch.stack([TARGET[1], torch.zeros(7)]))
    with pytest.raises(ValueError, match="warm start must be"):
        CEM().plan(quadratic, warm=torch.zeros(3, 7))


def test_a_cost_of_the_wrong_shape_and_nan_costs_are_handled():
    with pytest.raises(ValueError, match="must return"):
        CEM(CEMConfig(samples=4, topk=2, iterations=1)).plan(lambda a: torch.zeros(3))

    def nan_for_half(actions):
        cost = quadratic(actions)
        cost[::2] = float("nan")
        return cost

    plan = CEM(CEMConfig(samples=64, topk=4, iterations=5)).plan(
        nan_for_half, generator=torch.Generator().manual_seed(0)
    )
    assert torch.isfinite(torch.tensor(plan.cost))


def test_bad_settings_are_refused():
    with pytest.raises(ValueError):
        CEMConfig(samples=4, topk=5)
    with pytest.raises(ValueError):
        ActionBounds(xyz=-1.0)
    with pytest.raises(ValueError):
        MPPIConfig(temperature=0.0)


def test_states_are_integrated_like_the_env_convention():
    from jepa_sim.geometry import apply_action
    from jepa_sim.planning.energy import integrate_states

    state = torch.tensor([0.4, 0.0, 0.2, 0.0, 0.0, 0.3, 0.5], dtype=torch.float64)
    actions = torch.tensor([[[0.01, 0.02, -0.03, 0.0, 0.0, 0.1, 0.7], [0.0, 0.0, 0.01, 0.0, 0.0, 0.0, 0.2]]])
    states = integrate_states(state, actions.double())
    torch.testing.assert_close(states[0, 0], state)
    expected = torch.from_numpy(apply_action(state.numpy(), actions[0, 0].double().numpy()))
    torch.testing.assert_close(states[0, 1], expected)
    assert states[0, 1, 6] == 1.0  # gripper clipped at closed


def test_latent_energy_is_zero_for_the_predicted_goal_and_ranks_candidates():
    from jepa_sim.planning.energy import LatentEnergy
    from jepa_sim.predictor import ACPredictor, PredictorConfig

    torch.manual_seed(0)
    model = ACPredictor(PredictorConfig(token_dim=8, grid=(2, 2), width=16, depth=2, heads=2)).eval()
    z, past, states = torch.randn(2, 4, 8), torch.randn(1, 7), torch.randn(2, 7)
    observed = model.observe(z, past, states)
    good = torch.tensor([[[0.02, 0.0, 0.0, 0.0, 0.0, 0.0, 0.1]] * 2])
    from jepa_sim.planning.energy import integrate_states

    with torch.no_grad():
        goal = model.imagine(observed, good, integrate_states(states[-1], good))[0, -1]
    energy = LatentEnergy(model, observed, goal)
    others = torch.randn(5, 2, 7) * 0.05
    costs = energy(torch.cat([good, others]))
    assert costs.shape == (6,) and costs[0] < 1e-6 and bool((costs[1:] > costs[0]).all())
    with pytest.raises(ValueError, match="goal tokens must be"):
        LatentEnergy(model, observed, goal[:3])


def test_energy_landscape_puts_the_minimum_at_the_goal_action():
    from jepa_sim.planning.energy import LatentEnergy, energy_landscape, integrate_states
    from jepa_sim.predictor import ACPredictor, PredictorConfig

    torch.manual_seed(0)
    model = ACPredictor(PredictorConfig(token_dim=8, grid=(2, 2), width=16, depth=2, heads=2)).eval()
    observed = model.observe(torch.randn(1, 4, 8), torch.zeros(0, 7), torch.zeros(1, 7))
    target = torch.tensor([[[0.05, -0.025, 0.0, 0.0, 0.0, 0.0, 0.0]]])
    with torch.no_grad():
        goal = model.imagine(observed, target, integrate_states(torch.zeros(7), target))[0, -1]
    xs, ys, grid = energy_landscape(LatentEnergy(model, observed, goal), extent=0.075, points=7)
    assert grid.shape == (7, 7) and xs[0] == pytest.approx(-0.075)
    i, j = divmod(int(torch.argmin(grid)), 7)
    assert (xs[i].item(), ys[j].item()) == pytest.approx((0.05, -0.025), abs=1e-6)
    with pytest.raises(ValueError, match="two distinct axes"):
        energy_landscape(LatentEnergy(model, observed, goal), axes=(0, 0))


def test_yaw_can_be_freed_while_roll_and_pitch_stay_held():
    bounds = ActionBounds(xyz=0.05, rotation=0.0, gripper=0.75, yaw=0.15)
    torch.testing.assert_close(bounds.high(), torch.tensor([0.05, 0.05, 0.05, 0.0, 0.0, 0.15, 0.75]))
    plan = CEM(CEMConfig(horizon=1, samples=64, topk=8, iterations=8), bounds).plan(
        lambda a: (a[:, 0, 5] - 1.0) ** 2, generator=torch.Generator().manual_seed(0)
    )
    assert plan.actions[0, 5] == pytest.approx(0.15, abs=1e-2) and torch.all(plan.actions[0, 3:5] == 0)
    assert ActionBounds().high()[5] == 0  # the paper's default: rotation held


def test_kept_elites_are_not_scored_again_and_still_find_the_minimum():
    target = torch.tensor([0.03, -0.02, 0.01, 0.0, 0.0, 0.0, 0.2])
    asked: list[torch.Tensor] = []

    def cost(actions: torch.Tensor) -> torch.Tensor:
        asked.append(actions.clone())
        return ((actions - target) ** 2).sum(dim=(1, 2))

    config = CEMConfig(horizon=2, samples=32, topk=6, iterations=5, keep_elites=True)
    plan = CEM(config).plan(cost, generator=torch.Generator().manual_seed(0))
    assert [len(a) for a in asked] == [32, 26, 26, 26, 26] and plan.evaluations == 32 + 4 * 26
    assert plan.costs == sorted(plan.costs, reverse=True)  # the best never gets worse
    torch.testing.assert_close(plan.actions, target.expand(2, 7), atol=0.02, rtol=0)
    # the elites of the first iteration compete in the second unscored: none of them is asked about again
    first, second = asked[0], asked[1]
    assert not any(torch.equal(c, s) for c in first for s in second[1:])
    with pytest.raises(ValueError, match="keep_elites needs topk < samples"):
        CEMConfig(samples=8, topk=8, keep_elites=True)


@pytest.mark.parametrize("name", PLANNERS)
def test_the_final_mean_can_be_executed_instead_of_the_cheapest_sample(name):
    """execute="mean": the plan is the final Gaussian's mean, scored once more; "mean-move" keeps the cheapest
    sample's gripper change. On a flat cost the cheapest sample is noise, while CEM's mean stays near the start."""
    config = {"cem": CEMConfig(horizon=1, samples=64, topk=10, iterations=3),
              "mppi": MPPIConfig(horizon=1, samples=64, iterations=3)}[name]  # fmt: skip
    planner_type = CEM if name == "cem" else MPPI
    plans = {}
    for execute in ("best", "mean", "mean-move"):
        asked: list[int] = []

        def flat(actions: torch.Tensor, asked: list[int] = asked) -> torch.Tensor:
            asked.append(len(actions))
            return 1.0 + 1e-6 * torch.randn(len(actions), generator=torch.Generator().manual_seed(len(asked)))

        planner = planner_type(replace(config, execute=execute))  # type: ignore[arg-type]
        plans[execute] = planner.plan(flat, generator=torch.Generator().manual_seed(0))
        assert plans[execute].evaluations == sum(asked)
        assert (asked[-1] == 1) == (execute != "best")  # the mean is scored once more
    best, mean, move = plans["best"].actions, plans["mean"].actions, plans["mean-move"].actions
    if name == "cem":  # the average of elites scattered over a flat cost is a shorter move than the cheapest one
        assert float(mean[:, :3].norm()) < float(best[:, :3].norm())
    torch.testing.assert_close(move[:, :6], mean[:, :6])
    torch.testing.assert_close(move[:, 6], best[:, 6])
    plan = planner_type(replace(config, execute="mean")).plan(quadratic_1, generator=torch.Generator().manual_seed(0))
    assert plan.cost == pytest.approx(float(quadratic_1(plan.actions[None])[0]))
    with pytest.raises(ValueError, match="execute must be"):
        CEMConfig(execute="median")


def quadratic_1(actions):
    return ((actions - TARGET[:1]) ** 2).sum(dim=(1, 2))
