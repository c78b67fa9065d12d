"""``rl``: a reinforcement-learning controller over the sequence of discrete decisions, as an Optuna sampler.

Each trial is an episode: the controller makes one decision per discrete parameter (categorical
choices, and int or stepped-float ranges of at most ``max_choices`` values), in the order of the
parameter names, and the trial's objective is the terminal reward. Two algorithms:

``reinforce`` (Zoph & Le, "Neural Architecture Search with Reinforcement Learning", ICLR 2017;
Pham et al., "Efficient Neural Architecture Search via Parameter Sharing" (ENAS), ICML 2018):
    an autoregressive policy - a GRU cell (``hidden_size`` units) whose input at step ``i`` is the
    embedding of decision ``i - 1`` and whose output goes through a softmax head per decision. After
    each finished trial, one Adam step on ``-(R - b) * sum log pi(a_i) - entropy_weight * H(pi)`` where
    ``b`` is an exponential moving average of the rewards (``baseline_decay``) and the advantage is
    divided by the rewards' standard deviation (``normalize``).

``q-learning`` (Baker et al., "Designing Neural Network Architectures using Reinforcement
Learning" (MetaQNN), ICLR 2017):
    tabular Q-learning where the state is (decision index, previous choice); epsilon-greedy actions
    with epsilon going linearly from ``epsilon_start`` (1.0) to ``epsilon_end`` (0.1) over
    ``epsilon_trials`` (default: the first half of the budget); a zero reward on every step but the
    last, whose reward is the trial's; after each finished trial, the updates
    ``Q(s, a) += alpha * (target - Q(s, a))`` (targets: the reward at the last decision; before it
    ``max_a' Q(s', a')`` mixed with the reward, ``mc_weight``), applied last decision first, to that
    trial and to ``replay_size`` trials drawn from the replay memory of finished trials.

Reward: the objective, negated for ``minimize``, standardized by the running mean and standard deviation
of the completed trials' rewards (``normalize``). Failed and pruned trials get ``failure_reward`` (in
the objective's units after the sign flip) or, by default, the worst reward seen so far; so the
controller learns to avoid decisions that fail.

Parameters outside the controller (floats, wide int ranges, conditional parameters, which the
intersection search space leaves out) are sampled at random by a seeded
:class:`~optuna.samplers.RandomSampler`.

Parallel workers and lost state: the controller is not stored. Before each sampling it learns from
every finished trial of the study it has not learned from yet, in trial-number order; a worker in
another process, or a resumed search, thus replays the whole history and then follows the others'
trials as they finish. With one worker and a seed, the trials are reproducible.

One objective only: several objectives are refused (use ``regularized-evolution`` or ``evolution``).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from optuna.distributions import BaseDistribution
from optuna.samplers import BaseSampler, RandomSampler
from optuna.study import Study, StudyDirection
from optuna.trial import FrozenTrial, TrialState

from autoopt.exceptions import InvalidSpecError
from autoopt.strategies._registry import StrategyContext, strategies
from autoopt.strategies._regularized_evolution import finite_values
from autoopt.strategies._study_space import StudySpace

if TYPE_CHECKING:
    import torch

__all__ = ["RLSampler"]

ALGORITHMS = ("reinforce", "q-learning")


class _RewardStats:
    """Running mean, standard deviation (Welford) and minimum of the completed trials' rewards."""

    def __init__(self) -> None:
        self.n = 0
        self.mean = 0.0
        self._m2 = 0.0
        self.worst: float | None = None

    def add(self, r: float) -> None:
        self.n += 1
        d = r - self.mean
        self.mean += d / self.n
        self._m2 += d * (r - self.mean)
        self.worst = r if self.worst is None else min(self.worst, r)

    @property
    def std(self) -> float:
        return math.sqrt(self._m2 / self.n) if self.n > 1 else 0.0


class _Reinforce:
    """REINFORCE with an autoregressive GRU policy, a moving-average baseline and an entropy bonus."""

    def __init__(
        self,
        sizes: Sequence[int],
        *,
        seed: int,
        hidden_size: int,
        lr: float,
        entropy_weight: float,
        baseline_decay: float,
        batch_size: int,
        tanh_constant: float,
        temperature: float,
        normalize: bool,
    ) -> None:
        import torch
        from torch import nn

        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.cell = nn.GRUCell(hidden_size, hidden_size)
            self.start = nn.Parameter(torch.zeros(1, hidden_size))
            self.embeds = nn.ModuleList(nn.Embedding(n, hidden_size) for n in sizes)
            self.heads = nn.ModuleList(nn.Linear(hidden_size, n) for n in sizes)
        params = [self.start, *self.cell.parameters(), *self.embeds.parameters(), *self.heads.parameters()]
        self.optimizer = torch.optim.Adam(params, lr=lr)
        self.generator = torch.Generator().manual_seed(seed)
        self.hidden_size = hidden_size
        self.entropy_weight = entropy_weight
        self.baseline_decay = baseline_decay
        self.normalize = normalize
        self.baseline: float | None = None
        self.batch_size = batch_size
        self.tanh_constant = tanh_constant
        self.temperature = temperature
        self.memory: list[tuple[list[int], float]] = []

    def _run(self, actions: torch.Tensor | None) -> tuple[list[int], torch.Tensor, torch.Tensor]:
        """Sample one episode (``actions=None``) or score a batch of them (``actions``: batch x steps)."""
        import torch

        batch = 1 if actions is None else actions.shape[0]
        h = torch.zeros(batch, self.hidden_size)
        x = self.start.expand(batch, -1)
        chosen: list[int] = []
        logp = torch.zeros(batch)
        entropy = torch.zeros(batch)
        for i, (head, embed) in enumerate(zip(self.heads, self.embeds, strict=True)):
            h = self.cell(x, h)
            logits = head(h)
            if self.tanh_constant:
                logits = self.tanh_constant * torch.tanh(logits / self.temperature)
            log_probs = torch.log_softmax(logits, dim=-1)
            if actions is None:
                a = torch.multinomial(log_probs[0].exp(), 1, generator=self.generator)
                chosen.append(int(a))
            else:
                a = actions[:, i]
            logp = logp + log_probs.gather(1, a.view(-1, 1))[:, 0]
            entropy = entropy - (log_probs.exp() * log_probs).sum(-1)
            x = embed(a.view(-1))
        return chosen, logp, entropy

    def sample(self, progress: float) -> list[int]:
        import torch

        with torch.no_grad():
            return self._run(None)[0]

    def learn(self, actions: Sequence[int], reward: float, stats: _RewardStats) -> None:
        import torch

        if self.baseline is None:
            self.baseline = stats.mean
        advantage = reward - self.baseline
        self.baseline = self.baseline_decay * self.baseline + (1 - self.baseline_decay) * reward
        if self.normalize and stats.std > 0:
            advantage /= stats.std
        self.memory.append((list(actions), advantage))
        recent = self.memory[-self.batch_size :]
        acts = torch.tensor([a for a, _ in recent])
        adv = torch.tensor([v for _, v in recent], dtype=torch.float32)
        _, logp, entropy = self._run(acts)
        loss = -(adv * logp).mean() - self.entropy_weight * entropy.mean()
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()


class _QLearning:
    """Tabular Q-learning over (decision index, previous choice), epsilon-greedy, with experience replay."""

    def __init__(
        self,
        sizes: Sequence[int],
        *,
        seed: int,
        alpha: float,
        epsilon_start: float,
        epsilon_end: float,
        replay_size: int,
        mc_weight: float,
        normalize: bool,
    ) -> None:
        self.mc_weight = mc_weight
        self.q = [np.zeros((1 if i == 0 else sizes[i - 1], n)) for i, n in enumerate(sizes)]
        self.rng = np.random.RandomState(seed)
        self.alpha = alpha
        self.epsilon_start = epsilon_start
        self.epsilon_end = epsilon_end
        self.replay_size = replay_size
        self.normalize = normalize
        self.memory: list[tuple[list[int], float]] = []

    def epsilon(self, progress: float) -> float:
        return self.epsilon_start + (self.epsilon_end - self.epsilon_start) * min(1.0, max(0.0, progress))

    def sample(self, progress: float) -> list[int]:
        eps = self.epsilon(progress)
        prev = 0
        chosen = []
        for table in self.q:
            row = table[prev]
            if self.rng.rand() < eps:
                a = self.rng.randint(len(row))
            else:
                best = np.flatnonzero(row == row.max())
                a = int(best[self.rng.randint(len(best))])
            chosen.append(int(a))
            prev = int(a)
        return chosen

    def _update(self, actions: Sequence[int], reward: float) -> None:
        last = len(actions) - 1
        for i in range(last, -1, -1):
            prev = 0 if i == 0 else actions[i - 1]
            target = reward
            if i < last:
                bootstrap = float(self.q[i + 1][actions[i]].max())
                target = (1 - self.mc_weight) * bootstrap + self.mc_weight * reward
            q = self.q[i][prev, actions[i]]
            self.q[i][prev, actions[i]] = q + self.alpha * (target - q)

    def learn(self, actions: Sequence[int], reward: float, stats: _RewardStats) -> None:
        self.memory.append((list(actions), reward))

        def norm(r: float) -> float:
            if not self.normalize:
                return r
            return (r - stats.mean) / stats.std if stats.std > 0 else r - stats.mean

        self._update(actions, norm(reward))
        k = min(self.replay_size, len(self.memory))
        for j in self.rng.choice(len(self.memory), size=k, replace=False):
            acts, r = self.memory[j]
            self._update(acts, norm(r))


class _Controller:
    """A learner for one list of decisions, and which trials it has learned from."""

    def __init__(self, names: list[str], values: list[list[Any]], learner: _Reinforce | _QLearning) -> None:
        self.names = names
        self.values = values
        self.learner = learner
        self.stats = _RewardStats()
        self.seen: set[int] = set()


class RLSampler(BaseSampler):
    """A REINFORCE or tabular Q-learning controller over the discrete parameters of a search space.

    Args:
        algorithm: ``"reinforce"`` (GRU policy gradient) or ``"q-learning"`` (MetaQNN).
        seed: seed of the controller and of the random draws.
        n_trials: the budget; sets the epsilon schedule unless ``epsilon_trials`` is given.
        lr: REINFORCE: Adam's learning rate.
        hidden_size: REINFORCE: units of the GRU cell and of the choice embeddings.
        entropy_weight: REINFORCE: weight of the entropy bonus.
        baseline_decay: REINFORCE: decay of the moving-average baseline.
        batch_size: REINFORCE: each update averages the policy gradient over the latest ``batch_size``
            finished trials (their advantages as computed when they finished): one sample per Adam
            step is too noisy, and a trial's batch is nearly on-policy when ``lr`` is small.
        tanh_constant: REINFORCE: logits are squashed to ``tanh_constant * tanh(logits / temperature)``
            (ENAS), so that the policy never becomes deterministic; ``0`` disables it.
        temperature: REINFORCE: see ``tanh_constant``.
        alpha: Q-learning: learning rate of the Q updates.
        epsilon_start: Q-learning: exploration rate at the first trial.
        epsilon_end: Q-learning: exploration rate at the end of the schedule.
        epsilon_trials: Q-learning: finished trials over which epsilon decreases, then stays at
            ``epsilon_end`` (default: half the budget ``n_trials``, or 100 when it is unknown; over the
            whole budget, half the trials are random and the search ends too early to exploit).
        replay_size: Q-learning: past trials replayed after each finished trial.
        mc_weight: Q-learning: weight of the trial's reward in the targets of the decisions before the
            last, ``(1 - mc_weight) * max_a' Q(s', a') + mc_weight * R`` (a lambda-return). The state
            (index, previous choice) forgets earlier choices, so pure bootstrapping (``0``, MetaQNN)
            cannot credit them: a first decision that always fails was then chosen as often as at random.
        failure_reward: the reward of failed and pruned trials (objective units, negated when
            minimizing); ``None``: the worst reward seen so far.
        normalize: standardize rewards by their running mean and standard deviation.
        max_choices: int and stepped-float parameters with more values than this are sampled at random.

    Example:
        >>> import optuna
        >>> sampler = RLSampler("q-learning", seed=0, n_trials=8)
        >>> study = optuna.create_study(direction="maximize", sampler=sampler)
        >>> study.optimize(lambda t: t.suggest_categorical("op", ["conv", "pool", "skip"]) == "conv", 8)
    """

    def __init__(
        self,
        algorithm: str = "reinforce",
        *,
        seed: int | None = None,
        n_trials: int | None = None,
        lr: float = 0.003,
        hidden_size: int = 32,
        entropy_weight: float = 0.01,
        baseline_decay: float = 0.9,
        batch_size: int = 10,
        tanh_constant: float = 2.5,
        temperature: float = 5.0,
        alpha: float = 0.5,
        epsilon_start: float = 1.0,
        epsilon_end: float = 0.1,
        epsilon_trials: int | None = None,
        replay_size: int = 50,
        mc_weight: float = 0.5,
        failure_reward: float | None = None,
        normalize: bool = True,
        max_choices: int = 32,
    ) -> None:
        if algorithm not in ALGORITHMS:
            raise InvalidSpecError(
                f"search.strategy_options.algorithm: expected one of {', '.join(ALGORITHMS)}, "
                f"got {algorithm!r}"
            )
        for key, value, low in (("lr", lr, 0.0), ("alpha", alpha, 0.0), ("hidden_size", hidden_size, 0)):
            if not value > low:
                raise InvalidSpecError(
                    f"search.strategy_options.{key}: expected a value > {low}, got {value!r}"
                )
        for key, value in (("epsilon_start", epsilon_start), ("epsilon_end", epsilon_end)):
            if not 0.0 <= value <= 1.0:
                raise InvalidSpecError(
                    f"search.strategy_options.{key}: expected a probability in [0, 1], got {value!r}"
                )
        self.algorithm = algorithm
        self._seed = seed
        self._budget = epsilon_trials or max(1, (n_trials or 200) // 2)
        self._reinforce_opts = dict(
            hidden_size=hidden_size,
            lr=lr,
            entropy_weight=entropy_weight,
            baseline_decay=baseline_decay,
            batch_size=batch_size,
            tanh_constant=tanh_constant,
            temperature=temperature,
        )
        self._q_opts = dict(
            alpha=alpha,
            epsilon_start=epsilon_start,
            epsilon_end=epsilon_end,
            replay_size=replay_size,
            mc_weight=mc_weight,
        )
        self.failure_reward = failure_reward
        self.normalize = normalize
        self.max_choices = max_choices
        self._seed_rng = np.random.RandomState(seed)
        self._random = RandomSampler(seed=seed)
        self._study_space = StudySpace()
        self._controllers: dict[tuple[Any, ...], _Controller] = {}
        self._lock = threading.RLock()

    # ---- the controller ------------------------------------------------------------------------------
    def _controller(self, search_space: dict[str, BaseDistribution]) -> _Controller | None:
        names, values = [], []
        for name, dist in search_space.items():
            vals = finite_values(dist, self.max_choices)
            if vals is not None and len(vals) > 1:
                names.append(name)
                values.append(vals)
        if not names:
            return None
        key = tuple((n, tuple(map(repr, v))) for n, v in zip(names, values, strict=True))
        if key not in self._controllers:
            seed = int(self._seed_rng.randint(2**31 - 1))
            sizes = [len(v) for v in values]
            learner: _Reinforce | _QLearning
            if self.algorithm == "reinforce":
                learner = _Reinforce(sizes, seed=seed, normalize=self.normalize, **self._reinforce_opts)  # type: ignore[arg-type]
            else:
                learner = _QLearning(sizes, seed=seed, normalize=self.normalize, **self._q_opts)  # type: ignore[arg-type]
            self._controllers[key] = _Controller(names, values, learner)
        return self._controllers[key]

    def _reward(self, study: Study, trial: FrozenTrial) -> float:
        sign = -1.0 if study.direction == StudyDirection.MINIMIZE else 1.0
        return sign * float(trial.value)  # type: ignore[arg-type]

    def _actions(self, ctrl: _Controller, trial: FrozenTrial) -> list[int] | None:
        actions = []
        for name, vals in zip(ctrl.names, ctrl.values, strict=True):
            if name not in trial.params:
                return None
            v = trial.params[name]
            idx = next((i for i, x in enumerate(vals) if x == v), None)
            if idx is None:
                return None
            actions.append(idx)
        return actions

    def _catch_up(self, study: Study, ctrl: _Controller) -> None:
        """Learn from the study's finished trials not learned from yet, in trial-number order."""
        finished = study._get_trials(
            deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL), use_cache=True
        )
        for t in sorted((t for t in finished if t.number not in ctrl.seen), key=lambda t: t.number):
            actions = self._actions(ctrl, t)
            if t.state == TrialState.COMPLETE:
                reward = self._reward(study, t)
                if not math.isfinite(reward):
                    ctrl.seen.add(t.number)
                    continue
                ctrl.stats.add(reward)
            elif self.failure_reward is not None:
                reward = float(self.failure_reward)
            elif ctrl.stats.worst is not None:
                reward = ctrl.stats.worst
            else:
                continue  # no reward seen yet: learn from this failure once there is one
            ctrl.seen.add(t.number)
            if actions is not None:
                ctrl.learner.learn(actions, reward, ctrl.stats)

    # ---- BaseSampler ---------------------------------------------------------------------------------
    def infer_relative_search_space(self, study: Study, trial: FrozenTrial) -> dict[str, BaseDistribution]:
        return self._study_space(study)

    def sample_relative(
        self, study: Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        if len(study.directions) > 1:
            raise ValueError(
                "strategy 'rl' optimizes a single objective; for several objectives use "
                "'regularized-evolution' or 'evolution'"
            )
        with self._lock:
            params: dict[str, Any] = {}
            ctrl = self._controller(search_space)
            if ctrl is not None:
                self._catch_up(study, ctrl)
                actions = ctrl.learner.sample(progress=len(ctrl.seen) / self._budget)
                params = {n: vals[a] for n, vals, a in zip(ctrl.names, ctrl.values, actions, strict=True)}
            for name, dist in search_space.items():
                if name not in params:
                    params[name] = self._random.sample_independent(study, trial, name, dist)
            return params

    def sample_independent(
        self, study: Study, trial: FrozenTrial, param_name: str, param_distribution: BaseDistribution
    ) -> Any:
        with self._lock:
            return self._random.sample_independent(study, trial, param_name, param_distribution)

    def reseed_rng(self) -> None:
        with self._lock:
            self._seed_rng = np.random.RandomState()
            self._random.reseed_rng()
            for ctrl in self._controllers.values():
                if isinstance(ctrl.learner, _QLearning):
                    ctrl.learner.rng = np.random.RandomState()
                else:
                    ctrl.learner.generator.seed()


@strategies.register("rl")
def _rl(ctx: StrategyContext) -> BaseSampler:
    ctx.single_objective("rl", "'regularized-evolution' or 'evolution'")
    return RLSampler(seed=ctx.seed, n_trials=ctx.n_trials, **ctx.options)
