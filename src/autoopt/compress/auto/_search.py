"""Searching a per-layer pruning policy: the DDPG agent, or any strategy of :mod:`autoopt.strategies`.

Both see the same problem: a policy is one ratio per layer of a :class:`PolicySpace`, clipped layer
by layer to the budget (so every evaluated policy meets it), scored by the :class:`ProxyReward`.
They are compared at an equal number of policy evaluations (``episodes``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import optuna
import torch

from autoopt.compress.auto._ddpg import DDPGAgent, DDPGConfig
from autoopt.compress.auto._env import STATE_DIM, Episode, LayerStates
from autoopt.compress.auto._reward import ProxyReward
from autoopt.compress.auto._space import PolicySpace
from autoopt.exceptions import CompressionError, InvalidSpecError
from autoopt.space import Space
from autoopt.strategies import StrategyContext, make_sampler

__all__ = ["PolicySearchResult", "Trial", "search_policy", "uniform_policy"]


@dataclass
class Trial:
    """One evaluated policy."""

    episode: int
    ratios: list[float]
    reward: float
    seconds: float


@dataclass
class PolicySearchResult:
    """The best policy found and the whole history.

    Attributes:
        agent: ``ddpg`` or the strategy's name.
        layers: the policy's layer names, in order.
        ratios: the best policy (one ratio per layer; it meets the budget).
        reward: its proxy reward (held-out accuracy after BN recalibration).
        baseline_reward: the unpruned model's proxy reward.
        budget: the bounds, as fractions of the unpruned model.
        costs: ``{resource: (policy's, unpruned)}``.
        history: every evaluated policy, in order.
        evaluations: policies evaluated.
        seconds: wall time of the search (space building excluded).
        excluded: layers whose pruning breaks the graph, with why; kept whole.
    """

    agent: str
    layers: list[str]
    ratios: list[float]
    reward: float
    baseline_reward: float
    budget: dict[str, float]
    costs: dict[str, tuple[int, int]]
    history: list[Trial] = field(default_factory=list)
    evaluations: int = 0
    seconds: float = 0.0
    excluded: dict[str, str] = field(default_factory=dict)

    @property
    def policy(self) -> dict[str, float]:
        """``{layer: ratio}`` of the best policy."""
        return dict(zip(self.layers, self.ratios, strict=False))

    def best_so_far(self) -> list[float]:
        """The best reward after each evaluation."""
        out, best = [], float("-inf")
        for t in self.history:
            best = max(best, t.reward)
            out.append(best)
        return out

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["policy"] = self.policy
        return d


def uniform_policy(space: PolicySpace, budget: dict[str, float], steps: int = 40) -> list[float]:
    """The hand-crafted baseline: one ratio for every layer, the least that meets ``budget``."""
    lo, hi = 0.0, space.max_ratio
    if space.meets([lo] * len(space.groups), budget):
        return [lo] * len(space.groups)
    for _ in range(steps):
        mid = (lo + hi) / 2
        if space.meets([mid] * len(space.groups), budget):
            hi = mid
        else:
            lo = mid
    ratios = [hi] * len(space.groups)
    return space.clip(ratios, budget)


def search_policy(
    space: PolicySpace,
    reward: ProxyReward | Callable[[Sequence[float]], float],
    *,
    budget: dict[str, float],
    agent: str = "ddpg",
    episodes: int = 60,
    seed: int = 0,
    ddpg: DDPGConfig | None = None,
    on_trial: Callable[[Trial], None] | None = None,
) -> PolicySearchResult:
    """Search the per-layer ratios of ``space`` that maximize ``reward`` under ``budget``.

    Args:
        space: the policy space.
        reward: maps a policy (ratios) to a score to maximize (the :class:`ProxyReward`).
        budget: ``{macs | params: fraction}``; checked before the search (an unreachable one is an
            error naming the smallest achievable value).
        agent: ``ddpg`` or a strategy name (``tpe``, ``bayes``, ``cmaes``, ``evolution``, ``random``...).
        episodes: policies to evaluate.
        seed: seeds the agent or the sampler.
        ddpg: DDPG hyperparameters (``agent: ddpg``).
        on_trial: called after each evaluation.

    Returns:
        A :class:`PolicySearchResult`; its ``ratios`` meet ``budget``.

    Example:
        >>> # space = PolicySpace(model, example); reward = ProxyReward(space, data)
        >>> # search_policy(space, reward, budget={"macs": 0.5}, agent="ddpg", episodes=60).policy
    """
    space.check_budget(budget)
    if episodes < 1:
        raise InvalidSpecError(f"compress.prune.episodes: must be >= 1; got {episodes}")
    history: list[Trial] = []
    start = time.perf_counter()

    def evaluate(ratios: list[float], episode: int) -> float:
        t0 = time.perf_counter()
        if not space.meets(ratios, budget):  # clipping guarantees it; never report a policy that does not
            raise CompressionError(f"internal error: a clipped policy exceeds the budget {budget}: {ratios}")
        value = float(reward(ratios))
        trial = Trial(episode, [round(r, 6) for r in ratios], value, time.perf_counter() - t0)
        history.append(trial)
        if on_trial:
            on_trial(trial)
        return value

    if agent == "ddpg":
        _run_ddpg(space, evaluate, budget, episodes, seed, ddpg)
    else:
        _run_strategy(space, evaluate, budget, episodes, seed, agent)
    best = max(history, key=lambda t: t.reward)  # the first of equals
    base = getattr(reward, "baseline", float("nan"))
    return PolicySearchResult(
        agent=agent,
        layers=[g.name for g in space.groups],
        ratios=best.ratios,
        reward=best.reward,
        baseline_reward=float(base),
        budget=dict(budget),
        costs={k: (space.cost(best.ratios, k), space.full_cost(k)) for k in ("macs", "params")},
        history=history,
        evaluations=len(history),
        seconds=time.perf_counter() - start,
        excluded=dict(space.excluded),
    )


def _run_ddpg(
    space: PolicySpace,
    evaluate: Callable[[list[float], int], float],
    budget: dict[str, float],
    episodes: int,
    seed: int,
    config: DDPGConfig | None,
) -> None:
    states = LayerStates(space)
    if config is None:
        # AMC warms up for a quarter of the episodes (100 of 400); the noise then decays so that it
        # reaches a tenth of its width at the last episode, whatever the budget of episodes.
        warmup = max(1, episodes // 4)
        config = DDPGConfig(warmup=warmup, noise_decay=0.1 ** (1.0 / max(1, episodes - warmup)))
    cfg = config
    with torch.random.fork_rng(devices=[]):
        agent = DDPGAgent(STATE_DIM, cfg, seed=seed)
        n = len(space.groups)
        for ep in range(episodes):
            episode = Episode()
            previous = 0.0
            for t in range(n):
                s = states.state(t, episode.ratios, previous)
                a = agent.act(s, ep)
                ratio = space.clip_one(t, a * space.max_ratio, episode.ratios, budget)
                executed = min(1.0, ratio / space.max_ratio)
                episode.states.append(s)
                episode.actions.append(executed)
                episode.ratios.append(ratio)
                previous = executed
            episode.reward = evaluate(episode.ratios, ep)
            agent.observe(episode.states, episode.actions, episode.reward)
            agent.update(n)


def _run_strategy(
    space: PolicySpace,
    evaluate: Callable[[list[float], int], float],
    budget: dict[str, float],
    episodes: int,
    seed: int,
    strategy: str,
) -> None:
    names = [f"ratio.{g.name}" for g in space.groups]
    declared = Space.from_dict({n: {"low": 0.0, "high": space.max_ratio} for n in names})
    ctx = StrategyContext(seed=seed, space=declared, n_trials=episodes, directions=("maximize",))
    sampler = make_sampler(strategy, ctx, key="compress.prune.agent")
    study = optuna.create_study(direction="maximize", sampler=sampler)
    dists: dict[str, optuna.distributions.BaseDistribution] = {
        n: optuna.distributions.FloatDistribution(0.0, space.max_ratio) for n in names
    }
    for ep in range(episodes):
        trial = study.ask(dists)
        proposed = [float(trial.params[n]) for n in names]
        ratios = space.clip(proposed, budget)
        trial.set_user_attr("ratios", ratios)
        study.tell(trial, evaluate(ratios, ep))
