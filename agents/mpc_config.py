"""The MPC agent's settings (:class:`MPCConfig`) and its sub-goal rules as pure functions of the distances seen so
far (:func:`arrived`, :func:`stalled`, :func:`advance_points`); :mod:`agents.mpc` explains them and applies them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from numpy.typing import NDArray

from agents.planning_model import EXTERIOR, check_precision
from agents.servo import SEARCHES

SERVO_METHODS = tuple(SEARCHES)
"""``MPCConfig.servo_method``'s choices (:mod:`agents.servo`)"""


@dataclass(frozen=True)
class MPCConfig:
    warm_start: bool = True
    """start each plan from the previous plan shifted by one step"""
    views: tuple[str, ...] = (EXTERIOR,)
    """the camera views the agent observes and its energy compares (the paper: the exterior one)"""
    view_weights: tuple[float, ...] | None = None
    """weight of each view's latent L1 in the energy, in the order of ``views`` (normalised to sum to 1);
    None = equal weights"""
    advance_ratio: float = 0.5
    """move to the next sub-goal when the distance to the current one falls below this fraction of its start"""
    stall_steps: int = 0
    """also move on when the last ``stall_steps`` distances set no new low ``min_progress`` below the lowest
    before them (usually: the frame is as close to the sub-goal as the planner gets it; robust when a sub-goal
    differs little from the last one, such as closing the gripper; it also fires when the distance only rises,
    leaving a sub-goal the planner moves away from); 0 = off"""
    min_progress: float = 0.1
    """a new low must be this fraction below the previous one to count as progress"""
    max_steps_per_subgoal: int = 25
    plan_arrival: bool = False
    """also move on when the best plan found toward the current sub-goal would bring the distance down by less
    than ``min_progress`` (the planner itself sees no way closer; unlike ``stall_steps`` it does not fire while
    the planner still sees a way, however it oscillated); the step then plans toward the next sub-goal"""
    gripper_snap: float | None = None
    """None: gripper changes are continuous (the paper). A number s: a planned gripper change of at least s in
    size is executed as a full close (+1) or open (-1), a smaller one as none. A picture cannot tell fingers
    1 mm short of an object from fingers squeezing it, so a continuous planner often stops closing just short
    of contact; a gripper that closes all the way (as a person's trigger does) grasps wherever the fingers meet
    the object. What the model scores depends on what its actions mean (``PlanningModel.actions_are_commands``):
    the simulator executes commands, so it scores the snapped action; the learned predictor reads an action as
    the state change it causes (the data records the observed change), and a full close on a 6 cm cup changes
    the closedness by 0.26, not 1, so it scores the planned change itself: +0.26 is what closing on the cup looks
    like to it, +1 would be fingers closing through the cup. ``s`` must then be below the change of a close on
    the object (0.26 cup, 0.30 box)"""
    retry_from: int | None = None
    """the sub-goal to go back to when the last goal stalls short of arrival (module docstring); None = never"""
    retries: int = 1
    """how many times per episode the chain may go back"""
    holding_subgoals: tuple[int, ...] = ()
    """sub-goals whose image shows the object held (the grasp chain's *closed*, *lifted*, *carried*, *lowered*):
    on them, a gripper that the robot measures closed beyond ``empty_closedness`` holds nothing (its fingers met
    each other, not the object: the cup stops them at 0.26, the box at 0.30), so the chain goes back to
    ``retry_from`` at once, without walking an empty gripper through the rest of the chain first. This reads the
    robot's own gripper width, as the state the predictor is given already does; the energy stays visual"""
    empty_closedness: float = 0.9
    """``holding_subgoals``, ``close_subgoal``: the measured closedness (0 open .. 1 closed) at or above which the
    gripper is empty"""
    close_subgoal: int | None = None
    """the sub-goal whose image shows the gripper closed on the object (the grasp chain's *closed*, 3): the agent
    moves on from it as soon as the robot measures its fingers stopped by something (closedness between
    ``stopped_closedness`` and ``empty_closedness``), instead of planning toward the *closed* image until its
    distance stalls. Those extra steps moved the arm while it held the object at the table: in pick-and-place cup
    seed 1030 one 1.6 cm step along the fingers' closing axis squeezed the cup out of the grasp. None = off"""
    stopped_closedness: float = 0.1
    """``close_subgoal``: the measured closedness at or above which the fingers have closed on something"""
    set_down_subgoal: int | None = None
    """the sub-goal whose image shows the held object set down on its target (the grasp chain's *lowered*, 6): the
    agent moves on from it (to *placed*: let go) as soon as the robot measures its arm stopped on the way down, the
    object on the table: the last step commanded at least ``set_down_drop`` down and the tool went less than
    ``set_down_fraction`` of it. The distance to *lowered* still falls while the fingers slide down a cup standing on
    the table, and pressing on squeezed it out of the grasp (pick-and-place cup seeds 1002, 1010 with
    ``precise_subgoals`` 5: set down 2.5 and 4.3 cm from the target, then knocked 15 cm away). Like
    ``close_subgoal`` this reads the robot's own measured pose; the energy stays visual. None = off"""
    set_down_drop: float = 0.01
    """``set_down_subgoal``: the least commanded descent (m) whose shortfall counts"""
    set_down_fraction: float = 0.6
    """``set_down_subgoal``: the arm is stopped when it went less than this fraction of the commanded descent"""
    gripper_margin: float = 0.0
    """a planned gripper change is executed only when it earns its place: when the best plan with its gripper
    changes removed costs more than ``(1 + gripper_margin)`` times the best plan's cost. Where the energy barely
    depends on the gripper (far from the object, or while carrying), the best of a few dozen samples has a
    gripper change that is noise: snapped, it opens and closes the gripper at random and drops what it holds.
    0 = off (the paper)"""
    precision: str = "fp32"
    """the learned predictor's arithmetic while planning: ``fp32``, ``bf16`` or ``auto`` (:class:`PredictorModel`)"""
    path_weight: float = 0.0
    """the learned predictor's energy also scores the frames predicted on the way, with this weight
    (:class:`LatentEnergy`); 0 = the last frame only (the paper)"""
    fine_subgoals: tuple[int, ...] = ()
    """sub-goals on which the arm moves in finer steps: every planned translation times ``fine_scale`` (in the
    candidates scored and the action executed); e.g. the grasp chain's *over*, *around* and *closed* (1, 2, 3),
    where one long step can knock the object over, while reaching and carrying keep the long steps"""
    fine_scale: float = 1.0
    """the factor of ``fine_subgoals`` (0 < s <= 1)"""
    descent_subgoals: tuple[int, ...] = ()
    """sub-goals reached by moving straight down and closing in place (the grasp chain's *around* and *closed*, 2
    and 3: *over* is the last sideways alignment, and *around* is the same pose lower): on them every planned
    horizontal translation is multiplied by ``descent_scale`` (in the candidates scored and the action executed),
    the vertical one is not. Near the object the predictor's energy is nearly flat sideways, so CEM's sampling noise
    chose 2-3 cm sideways steps during the descent and the close, and the fingers pushed or tipped the cup (a close
    1.5 cm off its axis does not hold it)"""
    descent_scale: float = 1.0
    """the horizontal factor of ``descent_subgoals`` (0 < s <= 1)"""
    effort_weight: float = 0.0
    """a control-effort term added to the energy: this weight times the length (m) of every planned translation,
    as executed, summed over the plan's steps. Near the object the predicted energy is nearly flat (a 1 cm error
    raises it by 0.001-0.023), so CEM's choice among its samples is noise, and the arm wandered 1-3 cm per step
    around the cup; with the term, a move must lower the energy by more than it costs. It also slows the long moves
    whose distance falls a few percent per step: with 0.5 (0.005 per cm) and ``descent_subgoals`` 2, 3 the agent
    grasped the cup 42/50 but placed it 26/50 (34/50 without either). 0 = off (the paper)"""
    no_open_subgoals: tuple[int, ...] = ()
    """sub-goals whose image shows the object held (the grasp chain's *closed*, *lifted*, *carried*, *lowered*: 3-6):
    on them a planned gripper change is never an opening (negative changes become 0, in the candidates scored and
    the action executed). Where the energy hardly depends on the gripper (carrying), the best sample's gripper
    change is noise, and an opening drops the object; the chain's *placed* image, where the gripper opens, is not
    one of them. Going back (``retry_from``) reaches a sub-goal where opening is allowed again"""
    patient_subgoals: tuple[int, ...] = ()
    """sub-goals on which the stall rule waits ``patient_stall_steps`` steps instead of ``stall_steps``: long moves
    whose distance falls slowly at first (lifting, carrying, lowering the object), which two steps without a 10%
    new low leave too early, while the short ones of the grasp need the quick rule"""
    patient_stall_steps: int = 4
    """the stall rule's steps on ``patient_subgoals``"""
    patient_progress: float | None = None
    """the stall rule's ``min_progress`` on ``patient_subgoals`` (None: ``min_progress``). A long move closes a
    large latent distance a few percent per step (carrying the cup 4 cm toward its target: 0.377 -> 0.343, 9%), so
    a 10% new low every two steps leaves it half-way, while a smaller one still leaves it as soon as the distance
    stops falling"""
    precise_subgoals: tuple[int, ...] = ()
    """sub-goals that the ratio rule leaves only below ``precise_ratio`` times their start (else by the stall rule,
    once the distance stops falling, or the step limit). Carrying with the exterior view alone, the distance to
    *carried* falls below 0.25 of its start with the held cup still 5-11 cm off its target (the arm already
    matches the image; the cup, a few pixels, not yet), and the cup went down and was let go there; it goes on
    falling while the cup comes over its target (pick-and-place cup seed 1001: 11.3 cm off at 0.162, 2.3 cm at
    0.075)"""
    precise_ratio: float = 0.1
    """the ratio rule's fraction on ``precise_subgoals`` (0: never by the ratio)"""
    servo_subgoals: tuple[int, ...] = ()
    """sub-goals the agent does not leave as soon as the advance rule says it has got there: it first refines its
    horizontal position there by visual servoing (:class:`agents.servo.CompassSearch`): moves of ``servo_step``
    along +x, -x, +y, -y, each kept when the *observed* distance to the sub-goal image falls and undone otherwise,
    halving the step down to ``servo_min_step``, at most ``servo_steps`` moves. The predictor barely sees a 1 cm
    error over the object; the encoder of the real frames does. E.g. the grasp chain's *over* (1)"""
    servo_step: float = 0.01
    """``servo_subgoals``: the first probe length (m)"""
    servo_min_step: float = 0.005
    """``servo_subgoals``: the search ends when the probe length halves below this (m)"""
    servo_steps: int = 10
    """``servo_subgoals``: at most this many moves per search (each one control step)"""
    servo_method: str = "compass"
    """``servo_subgoals``: ``compass`` (:class:`agents.servo.CompassSearch`: probe, keep or undo), ``axis``
    (:class:`agents.servo.AxisSearch`: per axis, probe both sides and move to the parabola's bottom) or ``grid``
    (:class:`agents.servo.GridSearch`: a 3 x 3 grid, then the bottom of the quadratic fitted to it; 9 moves)"""
    servo_view: str | None = None
    """``servo_subgoals``: the one view whose observed distance the search compares (None: the sub-goal's view
    weights). The wrist camera looks down at the object from a few centimetres: a 1 cm error moves the object
    across its image by many pixels, where the exterior view sees the 6 cm cup 10 pixels wide"""
    exterior_subgoals: tuple[int, ...] = ()
    """sub-goals whose energy compares the exterior view alone (with two views; the others keep
    ``view_weights``): where the wrist camera's view of a held object hardly changes with where the arm is (carrying
    and setting it down: the grasp chain's *carried* and *lowered*, 5 and 6), its term is noise in the distance to the
    target"""
    seed: int = 0

    def __post_init__(self) -> None:
        check_precision(self.precision)
        if not self.views or len(set(self.views)) != len(self.views):
            raise ValueError(f"views must name distinct views, got {self.views}")
        if self.view_weights is not None and (
            len(self.view_weights) != len(self.views) or min(self.view_weights) < 0 or sum(self.view_weights) <= 0
        ):
            raise ValueError(f"view_weights must be {len(self.views)} non-negative numbers, got {self.view_weights}")
        if not (0.0 < self.advance_ratio <= 1.0 and 0.0 <= self.min_progress < 1.0):
            raise ValueError(f"need 0 < advance_ratio <= 1 and 0 <= min_progress < 1, got {self.advance_ratio}, "
                             f"{self.min_progress}")  # fmt: skip
        if self.stall_steps < 0 or self.max_steps_per_subgoal < 1:
            raise ValueError(f"need stall_steps >= 0 and max_steps_per_subgoal >= 1, got {self.stall_steps}, "
                             f"{self.max_steps_per_subgoal}")  # fmt: skip
        if self.gripper_snap is not None and not 0.0 < self.gripper_snap <= 1.0:
            raise ValueError(f"gripper_snap must be in (0, 1] or None, got {self.gripper_snap}")
        if self.retry_from is not None and (self.retry_from < 0 or self.retries < 1 or self.stall_steps < 1):
            raise ValueError(f"retry_from needs retry_from >= 0, retries >= 1 and the stall rule (stall_steps >= 1), "
                             f"got {self.retry_from}, {self.retries}, {self.stall_steps}")  # fmt: skip
        if self.holding_subgoals and (self.retry_from is None or any(i < 0 for i in self.holding_subgoals)):
            raise ValueError(f"holding_subgoals need retry_from (where to go back to) and sub-goals >= 0, got "
                             f"{self.holding_subgoals}, retry_from {self.retry_from}")  # fmt: skip
        if not 0.0 < self.stopped_closedness < self.empty_closedness <= 1.0:
            raise ValueError(f"need 0 < stopped_closedness < empty_closedness <= 1, got {self.stopped_closedness}, "
                             f"{self.empty_closedness}")  # fmt: skip
        if self.set_down_subgoal is not None and (
            self.set_down_subgoal < 0 or self.set_down_drop <= 0 or not 0.0 < self.set_down_fraction < 1.0
        ):
            raise ValueError(f"need set_down_subgoal >= 0, set_down_drop > 0 and 0 < set_down_fraction < 1, got "
                             f"{self.set_down_subgoal}, {self.set_down_drop}, {self.set_down_fraction}")  # fmt: skip
        if self.close_subgoal is not None and self.close_subgoal < 0:
            raise ValueError(f"close_subgoal must be a sub-goal >= 0 or None, got {self.close_subgoal}")
        if not 0.0 <= self.gripper_margin < 10.0:
            raise ValueError(f"gripper_margin must be in [0, 10), got {self.gripper_margin}")
        if not 0.0 <= self.path_weight <= 10.0:
            raise ValueError(f"path_weight must be in [0, 10], got {self.path_weight}")
        if not 0.0 < self.fine_scale <= 1.0 or any(i < 0 for i in self.fine_subgoals):
            raise ValueError(
                f"need 0 < fine_scale <= 1 and sub-goals >= 0, got {self.fine_scale}, {self.fine_subgoals}"
            )
        if not 0.0 < self.descent_scale <= 1.0 or any(i < 0 for i in self.descent_subgoals):
            raise ValueError(f"need 0 < descent_scale <= 1 and sub-goals >= 0, got {self.descent_scale}, "
                             f"{self.descent_subgoals}")  # fmt: skip
        if not 0.0 <= self.effort_weight <= 100.0:
            raise ValueError(f"effort_weight must be in [0, 100], got {self.effort_weight}")
        if any(i < 0 for i in self.no_open_subgoals):
            raise ValueError(f"no_open_subgoals must be sub-goals >= 0, got {self.no_open_subgoals}")
        if self.patient_subgoals and (
            any(i < 0 for i in self.patient_subgoals) or self.patient_stall_steps < 1 or self.stall_steps < 1
        ):
            raise ValueError(f"patient_subgoals need sub-goals >= 0, patient_stall_steps >= 1 and the stall rule "
                             f"(stall_steps >= 1), got {self.patient_subgoals}, {self.patient_stall_steps}, "
                             f"{self.stall_steps}")  # fmt: skip
        if not 0.0 <= self.precise_ratio <= 1.0 or any(i < 0 for i in self.precise_subgoals):
            raise ValueError(f"precise_ratio must be in [0, 1] and precise_subgoals >= 0, got {self.precise_ratio}, "
                             f"{self.precise_subgoals}")  # fmt: skip
        if self.patient_progress is not None and not 0.0 <= self.patient_progress < 1.0:
            raise ValueError(f"patient_progress must be in [0, 1) or None, got {self.patient_progress}")

        if self.servo_subgoals and (
            any(i < 0 for i in self.servo_subgoals)
            or not 0.0 < self.servo_min_step <= self.servo_step <= 0.05
            or self.servo_method not in SERVO_METHODS
            or self.servo_steps < SEARCHES[self.servo_method].least
        ):
            least = ", ".join(f"{name} {search.least}" for name, search in SEARCHES.items())
            raise ValueError(f"servo_subgoals need sub-goals >= 0, 0 < servo_min_step <= servo_step <= 0.05 m, "
                             f"servo_method in {SERVO_METHODS} and servo_steps at least the method's ({least}), got "
                             f"{self.servo_subgoals}, {self.servo_min_step}, {self.servo_step}, {self.servo_steps}, "
                             f"{self.servo_method!r}")  # fmt: skip

        if self.servo_view is not None and self.servo_view not in self.views:
            raise ValueError(f"servo_view {self.servo_view!r} is not one of the agent's views {self.views}")
        if self.exterior_subgoals and (EXTERIOR not in self.views or any(i < 0 for i in self.exterior_subgoals)):
            raise ValueError(f"exterior_subgoals need the exterior view and sub-goals >= 0, got views {self.views}, "
                             f"{self.exterior_subgoals}")  # fmt: skip

    def stall_steps_on(self, subgoal: int) -> int:
        """The stall rule's steps on sub-goal ``subgoal`` (``stall_steps``, or ``patient_stall_steps`` on the
        patient sub-goals)."""
        return self.patient_stall_steps if subgoal in self.patient_subgoals else self.stall_steps

    def advance_ratio_on(self, subgoal: int) -> float:
        """The ratio rule's fraction on sub-goal ``subgoal`` (``precise_ratio`` on the precise ones)."""
        return self.precise_ratio if subgoal in self.precise_subgoals else self.advance_ratio

    def min_progress_on(self, subgoal: int) -> float:
        """The stall rule's ``min_progress`` on sub-goal ``subgoal`` (``patient_progress`` on the patient ones)."""
        if subgoal in self.patient_subgoals and self.patient_progress is not None:
            return self.patient_progress
        return self.min_progress

    def snap(self, actions: torch.Tensor) -> torch.Tensor:
        """Actions (..., 7) with the gripper change snapped as ``gripper_snap`` says (unchanged when None)."""
        if self.gripper_snap is None:
            return actions
        out = actions.clone()
        g = out[..., 6]
        out[..., 6] = torch.where(g.abs() >= self.gripper_snap, torch.sign(g), torch.zeros_like(g))
        return out

    def weights_on(self, subgoal: int) -> dict[str, float]:
        """The energy's view weights on sub-goal ``subgoal`` (:attr:`weights`, or the exterior view alone on the
        ``exterior_subgoals``)."""
        if subgoal in self.exterior_subgoals:
            return self.alone(EXTERIOR)
        return self.weights

    def alone(self, view: str) -> dict[str, float]:
        """View weights that compare ``view`` alone."""
        return {v: float(v == view) for v in self.views}

    @property
    def weights(self) -> dict[str, float]:
        raw = self.view_weights or (1.0,) * len(self.views)
        return {view: w / sum(raw) for view, w in zip(self.views, raw, strict=True)}


def arrived(history: Sequence[float], config: MPCConfig, subgoal: int) -> bool:
    """The advance rule (module docstring) on the distances to sub-goal ``subgoal`` so far (first = its start);
    the step limit is checked by the caller."""
    h = list(history)
    return h[-1] < config.advance_ratio_on(subgoal) * h[0] or stalled(h, config, subgoal)


def stalled(history: Sequence[float], config: MPCConfig, subgoal: int, quick: bool = False) -> bool:
    """The stall rule on sub-goal ``subgoal``: the last k distances (``MPCConfig.stall_steps_on``) set no new low
    ``MPCConfig.min_progress_on`` below the ones before. ``quick``: the rule of the impatient sub-goals
    (``stall_steps``, ``min_progress``) whatever the sub-goal."""
    h = list(history)
    k = config.stall_steps if quick else config.stall_steps_on(subgoal)
    progress = config.min_progress if quick else config.min_progress_on(subgoal)
    return k > 0 and len(h) > k and min(h[-k:]) > (1.0 - progress) * min(h[:-k])


def advance_points(distances: NDArray[np.floating], config: MPCConfig) -> list[int]:
    """Where the advance rule moves on when following a given trajectory: ``distances`` (T, K) of each frame to
    each of K sub-goals; returns the frame at which each of sub-goals 0..K-2 is left (fewer if never)."""
    points, current, history, steps = [], 0, [], 0
    for t in range(len(distances)):
        if current == distances.shape[1] - 1:
            break
        history.append(float(distances[t, current]))
        if arrived(history, config, current) or steps >= config.max_steps_per_subgoal:
            points.append(t)
            current, steps = current + 1, 0
            history = [float(distances[t, current])]
        steps += 1
    return points
