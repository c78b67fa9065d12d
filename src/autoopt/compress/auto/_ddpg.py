"""DDPG (Lillicrap et al. 2016) as AMC uses it: a deterministic actor picks each layer's ratio.

Written for this problem, in torch: an actor MLP ``state -> action in [0, 1]`` (a fraction of
``max_ratio``), a critic MLP ``(state, action) -> Q``, a replay buffer of ``(state, action,
reward)`` transitions, truncated-normal exploration noise whose width decays after the warm-up
episodes, and a moving-average reward baseline. Every transition of an episode gets the episode's
reward minus the baseline (AMC's reward is known only once the whole network is pruned); with a
discount of 1 and a terminal reward that is also the critic's Monte-Carlo target, so no target
networks are needed. Everything random draws from one seeded generator: the same seed replays the
same episodes on the same machine.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

__all__ = ["DDPGAgent", "DDPGConfig"]


@dataclass
class DDPGConfig:
    """Hyperparameters of :class:`DDPGAgent` (AMC's values, scaled to small networks).

    Attributes:
        hidden: width of the actor's and critic's two hidden layers.
        actor_lr: Adam learning rate of the actor.
        critic_lr: Adam learning rate of the critic.
        warmup: episodes of uniformly random actions before the actor acts.
        noise: initial standard deviation of the exploration noise (in action units).
        noise_decay: its factor per episode after the warm-up.
        buffer: replay buffer capacity, in transitions.
        batch_size: transitions per update.
        updates: gradient updates per layer of each episode.
        baseline_decay: weight of the past in the moving-average reward baseline.
    """

    hidden: int = 64
    actor_lr: float = 1e-3
    critic_lr: float = 2e-3
    warmup: int = 10
    noise: float = 0.5
    noise_decay: float = 0.9
    buffer: int = 4000
    batch_size: int = 64
    updates: int = 8
    baseline_decay: float = 0.9


def _mlp(n_in: int, hidden: int, n_out: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Linear(n_in, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, n_out)
    )


class DDPGAgent:
    """Actor, critic, replay buffer and noise schedule of one search.

    Args:
        state_dim: length of a layer state.
        config: hyperparameters.
        seed: seeds the networks, the noise and the replay sampling.

    Example:
        >>> agent = DDPGAgent(4, DDPGConfig(warmup=0), seed=0)
        >>> 0.0 <= agent.act(torch.zeros(4), episode=0) <= 1.0
        True
    """

    def __init__(self, state_dim: int, config: DDPGConfig | None = None, *, seed: int = 0) -> None:
        self.cfg = config or DDPGConfig()
        self.gen = torch.Generator().manual_seed(seed)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.actor = nn.Sequential(_mlp(state_dim, self.cfg.hidden, 1), nn.Sigmoid())
            self.critic = _mlp(state_dim + 1, self.cfg.hidden, 1)
        self.actor_opt = torch.optim.Adam(self.actor.parameters(), lr=self.cfg.actor_lr)
        self.critic_opt = torch.optim.Adam(self.critic.parameters(), lr=self.cfg.critic_lr)
        self.states = torch.zeros(self.cfg.buffer, state_dim)
        self.actions = torch.zeros(self.cfg.buffer, 1)
        self.rewards = torch.zeros(self.cfg.buffer, 1)
        self.size = 0
        self._next = 0
        self.baseline: float | None = None

    def noise_scale(self, episode: int) -> float:
        """Standard deviation of the exploration noise in ``episode`` (0-based)."""
        return self.cfg.noise * self.cfg.noise_decay ** max(0, episode - self.cfg.warmup)

    def act(self, state: torch.Tensor, episode: int, *, explore: bool = True) -> float:
        """The action in ``[0, 1]`` for ``state``: random in the warm-up, then actor + truncated noise."""
        if explore and episode < self.cfg.warmup:
            return float(torch.rand(1, generator=self.gen))
        with torch.no_grad():
            mean = float(self.actor(state.unsqueeze(0)))
        if not explore:
            return mean
        return _truncated_normal(mean, self.noise_scale(episode), self.gen)

    def observe(self, states: list[torch.Tensor], actions: list[float], reward: float) -> None:
        """Store an episode's transitions with its reward, and update the moving-average baseline."""
        d = self.cfg.baseline_decay
        self.baseline = reward if self.baseline is None else d * self.baseline + (1 - d) * reward
        for s, a in zip(states, actions, strict=False):
            i = self._next
            self.states[i], self.actions[i, 0], self.rewards[i, 0] = s, a, reward
            self._next = (i + 1) % self.cfg.buffer
            self.size = min(self.size + 1, self.cfg.buffer)

    def update(self, n_layers: int) -> None:
        """Critic regression to the stored rewards, then a deterministic policy-gradient step."""
        if self.size < self.cfg.batch_size // 2:
            return
        for _ in range(self.cfg.updates * n_layers):
            idx = torch.randint(0, self.size, (min(self.cfg.batch_size, self.size),), generator=self.gen)
            # targets are rewards minus the current baseline: every stored transition is judged
            # against the same reference, which moves with the agent's recent episodes.
            s, a, r = self.states[idx], self.actions[idx], self.rewards[idx] - (self.baseline or 0.0)
            q = self.critic(torch.cat([s, a], dim=1))
            critic_loss = nn.functional.mse_loss(q, r)
            self.critic_opt.zero_grad()
            critic_loss.backward()
            self.critic_opt.step()
            actor_loss = -self.critic(torch.cat([s, self.actor(s)], dim=1)).mean()
            self.actor_opt.zero_grad()
            actor_loss.backward()
            self.actor_opt.step()


def _truncated_normal(
    mean: float, std: float, gen: torch.Generator, low: float = 0.0, high: float = 1.0
) -> float:
    """A draw of ``N(mean, std)`` restricted to ``[low, high]`` (rejection, then clamping)."""
    if std <= 0:
        return min(max(mean, low), high)
    for _ in range(100):
        x = mean + std * float(torch.randn(1, generator=gen))
        if low <= x <= high:
            return x
    return min(max(mean, low), high)
