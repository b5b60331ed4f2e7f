"""A small probabilistic PatchTST per indicator, trained from scratch on CPU in seconds.

``transformers.PatchTSTForPrediction`` is built from a :class:`PatchTSTConfig` (no hub download)
and trained on the indicator's **changes** (differences / log-returns, see ``transforms.py``):

* **inputs** — the last ``context_length`` monthly changes, standardized with the mean and
  standard deviation of the changes *in the training history only* (computed inside ``fit``, so a
  backtest origin never sees later data). The model's own per-window scaler is switched off so the
  network sees the size of recent moves relative to history — that is the signal for rates;
* **targets** — the *cumulative* change from the last observed month to each horizon
  1..``prediction_length`` (in the same standardized units). The model's Student-t head then gives
  the marginal distribution of each horizon directly; summing independently sampled one-step
  changes instead would understate the spread of persistent series like the policy rate;
* **windows** — every cut point of the history with at least ``min_context`` observed months;
  shorter contexts are left-padded and masked (``past_observed_mask``), horizons beyond the
  history are masked out of the loss. Monthly macro series are short (84–364 months), so every
  window counts.

Training is minibatch AdamW for a fixed number of steps with ``torch.manual_seed`` and
deterministic algorithms, single-threaded: the same history gives the same weights and the same
samples on any CPU. The 80% interval and the median are quantiles of ``num_samples`` draws,
rebuilt to levels.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from finray.forecasting.transforms import Forecast, Transform, check_history


@dataclass
class PatchTSTSettings:
    """Architecture and training budget. Defaults are the production budget (≈ seconds/fit)."""

    context_length: int = 36
    prediction_length: int = 24  # the longest served forecast (requests ask for 1..24 months)
    patch_length: int = 6
    patch_stride: int = 6
    d_model: int = 32
    num_heads: int = 4
    num_layers: int = 2
    ffn_dim: int = 64
    dropout: float = 0.1
    steps: int = 200
    batch_size: int = 64  # windows per step (sampled with the seed); bounds step cost on long series
    lr: float = 1e-3
    weight_decay: float = 1e-2
    min_context: int = 12
    num_samples: int = 500


@dataclass
class PatchTST:
    """The Transformer forecaster (``fit(history) → self``, ``predict(h) → Forecast``)."""

    transform: Transform = field(default_factory=Transform)
    seed: int = 0
    settings: PatchTSTSettings = field(default_factory=PatchTSTSettings)
    name: str = "patchtst"

    # fitted state
    mu: float = 0.0
    sigma: float = 1.0
    y_last: float = 0.0  # last working-scale level
    z_tail: np.ndarray | None = field(default=None, repr=False)  # last context of standardized changes
    last: pd.Period | None = None
    final_loss: float = float("nan")
    _model: Any = field(default=None, repr=False, compare=False)

    @property
    def min_len(self) -> int:
        return self.settings.min_context + 2

    # --- model ------------------------------------------------------------------------------
    def config(self) -> Any:
        from transformers import PatchTSTConfig

        st = self.settings
        return PatchTSTConfig(
            num_input_channels=1,
            context_length=st.context_length,
            prediction_length=st.prediction_length,
            patch_length=st.patch_length,
            patch_stride=st.patch_stride,
            d_model=st.d_model,
            num_attention_heads=st.num_heads,
            num_hidden_layers=st.num_layers,
            ffn_dim=st.ffn_dim,
            attention_dropout=st.dropout,
            ff_dropout=st.dropout,
            head_dropout=st.dropout,
            scaling=None,  # standardized in fit() with training-history statistics
            loss="nll",
            distribution_output="student_t",
            num_parallel_samples=st.num_samples,
            norm_type="layernorm",  # batchnorm statistics would mix padded windows
        )

    def _build(self) -> Any:
        import torch
        from transformers import PatchTSTForPrediction

        torch.manual_seed(self.seed)
        return PatchTSTForPrediction(self.config())

    # --- data -------------------------------------------------------------------------------
    def _windows(self, z: np.ndarray) -> tuple[np.ndarray, ...]:
        """All training windows: (context, context mask, cumulative targets, target mask)."""
        st = self.settings
        C, H, n = st.context_length, st.prediction_length, len(z)
        cut = np.arange(st.min_context, n)  # context = z[t-C:t], targets = cumsum(z[t:t+H])
        ctx = np.zeros((len(cut), C), dtype=np.float32)
        cmask = np.zeros((len(cut), C), dtype=np.float32)
        tgt = np.zeros((len(cut), H), dtype=np.float32)
        tmask = np.zeros((len(cut), H), dtype=np.float32)
        for i, t in enumerate(cut):
            past = z[max(0, t - C) : t]
            ctx[i, C - len(past) :] = past
            cmask[i, C - len(past) :] = 1.0
            fut = np.cumsum(z[t : t + H])
            tgt[i, : len(fut)] = fut
            tmask[i, : len(fut)] = 1.0
        return ctx, cmask, tgt, tmask

    def _standardize(self, x: np.ndarray) -> np.ndarray:
        return (x - self.mu) / self.sigma

    # --- fit / predict ------------------------------------------------------------------------
    def fit(self, history: pd.Series) -> PatchTST:
        import torch

        s = check_history(history, self.min_len)
        work = self.transform.to_work(s.to_numpy())
        x = np.diff(work)
        self.mu = float(x.mean())
        sd = float(x.std())
        self.sigma = sd if sd > 1e-12 else 1.0
        z = self._standardize(x)
        self.y_last = float(work[-1])
        self.last = s.index[-1]
        C = self.settings.context_length
        self.z_tail = z[-C:].astype(np.float32)

        # Targets are cumulative standardized changes; subtracting h·0 keeps them centred because
        # z already has mean zero over the history.
        ctx, cmask, tgt, tmask = self._windows(z)
        with _deterministic_torch():
            model = self._build()
            model.train()
            opt = torch.optim.AdamW(model.parameters(), lr=self.settings.lr,
                                    weight_decay=self.settings.weight_decay)
            past = torch.from_numpy(ctx)[..., None]
            pmask = torch.from_numpy(cmask)[..., None]
            target = torch.from_numpy(tgt)
            tm = torch.from_numpy(tmask)
            loss_v = torch.tensor(float("nan"))
            rng = np.random.default_rng(self.seed)
            n_win, bs = len(ctx), self.settings.batch_size
            for _ in range(self.settings.steps):
                pick = torch.from_numpy(rng.choice(n_win, size=min(bs, n_win), replace=False))
                opt.zero_grad()
                dist = self._distribution(model, past[pick], pmask[pick])
                lp = dist.log_prob(target[pick][..., None])
                nll = -(lp.squeeze(-1) if lp.dim() == 3 else lp)
                loss_v = (nll * tm[pick]).sum() / tm[pick].sum()
                loss_v.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                opt.step()
            model.eval()
        self.final_loss = float(loss_v.detach())
        self._model = model
        return self

    def update(self, history: pd.Series) -> PatchTST:
        """Re-anchor on a longer history **without retraining**: new context and last level,
        same weights and scaling. Lets a backtest retrain every few origins; nothing after the
        new history's end is seen, and the weights saw even less."""
        s = check_history(history, self.min_len)
        work = self.transform.to_work(s.to_numpy())
        z = self._standardize(np.diff(work))
        self.y_last = float(work[-1])
        self.last = s.index[-1]
        self.z_tail = z[-self.settings.context_length :].astype(np.float32)
        return self

    @staticmethod
    def _distribution(model: Any, past: Any, pmask: Any) -> Any:
        out = model(past_values=past, past_observed_mask=pmask)
        return model.distribution_output.distribution(
            out.prediction_outputs, loc=out.loc, scale=out.scale
        )

    def sample_paths(self, h: int) -> np.ndarray:
        """``(num_samples, h)`` draws of the working-scale level at horizons 1..h."""
        import torch

        assert self._model is not None and self.z_tail is not None, "fit first"
        H = self.settings.prediction_length
        if not 1 <= h <= H:
            raise ValueError(f"horizon must be 1..{H}, got {h}")
        C = self.settings.context_length
        ctx = np.zeros((1, C), dtype=np.float32)
        msk = np.zeros((1, C), dtype=np.float32)
        ctx[0, C - len(self.z_tail) :] = self.z_tail
        msk[0, C - len(self.z_tail) :] = 1.0
        with _deterministic_torch(), torch.no_grad():
            dist = self._distribution(self._model, torch.from_numpy(ctx)[..., None],
                                      torch.from_numpy(msk)[..., None])
            gen_state = torch.random.get_rng_state()
            torch.manual_seed(self.seed + 1)
            draws = dist.sample((self.settings.num_samples,))  # (S, 1, H) or (S, 1, H, 1)
            torch.random.set_rng_state(gen_state)
        z_cum = draws.reshape(self.settings.num_samples, H).numpy().astype(float)[:, :h]
        steps = np.arange(1, h + 1)
        cum = steps * self.mu + self.sigma * z_cum  # undo standardization of summed changes
        return self.y_last + cum

    def predict(self, h: int) -> Forecast:
        paths = self.sample_paths(h)
        q = np.quantile(paths, [0.1, 0.5, 0.9], axis=0)
        assert self.last is not None
        idx = pd.period_range(self.last + 1, periods=h, freq="M")
        tf = self.transform
        return Forecast(idx, tf.from_work(q[1]), tf.from_work(q[0]), tf.from_work(q[2]))

    # --- persistence --------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """Everything needed to predict again: weights + scaling + context (for ``torch.save``)."""
        assert self._model is not None, "fit first"
        return {
            "settings": self.settings.__dict__,
            "transform": {"kind": self.transform.kind, "decimals": self.transform.decimals},
            "seed": self.seed, "mu": self.mu, "sigma": self.sigma, "y_last": self.y_last,
            "z_tail": self.z_tail.tolist() if self.z_tail is not None else None,
            "last": str(self.last), "final_loss": self.final_loss,
            "weights": self._model.state_dict(),
        }

    @classmethod
    def from_state_dict(cls, state: dict[str, Any]) -> PatchTST:
        m = cls(transform=Transform(**state["transform"]), seed=int(state["seed"]),
                settings=PatchTSTSettings(**state["settings"]))
        m.mu, m.sigma, m.y_last = float(state["mu"]), float(state["sigma"]), float(state["y_last"])
        m.z_tail = np.asarray(state["z_tail"], dtype=np.float32)
        m.last = pd.Period(state["last"], freq="M")
        m.final_loss = float(state["final_loss"])
        model = m._build()
        model.load_state_dict(state["weights"])
        model.eval()
        m._model = model
        return m

    def to_bytes(self) -> bytes:
        import torch

        buf = io.BytesIO()
        torch.save(self.state_dict(), buf)
        return buf.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> PatchTST:
        import torch

        return cls.from_state_dict(torch.load(io.BytesIO(data), weights_only=False))

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        model = state.pop("_model", None)
        state["_model"] = None
        state["_weights"] = model.state_dict() if model is not None else None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        weights = state.pop("_weights", None)
        self.__dict__.update(state)
        if weights is not None:
            model = self._build()
            model.load_state_dict(weights)
            model.eval()
            self._model = model


class _deterministic_torch:
    """Single thread + deterministic kernels inside; restores the caller's settings after."""

    def __enter__(self) -> None:
        import torch

        self._threads = torch.get_num_threads()
        self._det = torch.are_deterministic_algorithms_enabled()
        torch.set_num_threads(1)
        torch.use_deterministic_algorithms(True)

    def __exit__(self, *exc: object) -> None:
        import torch

        torch.set_num_threads(self._threads)
        torch.use_deterministic_algorithms(self._det)
