"""The pipeline: wiring stages from a spec into a run directory."""

from autoopt.pipeline._compress import CompressSpecResult, compress_spec
from autoopt.pipeline._config import RunConfig
from autoopt.pipeline._distill import DistillSpecResult, check_distill_spec, distill_spec
from autoopt.pipeline._run import STAGES, RunResult, run_spec
from autoopt.pipeline._tune_spec import TuneSpecResult, build_trial_model, make_objective, tune_spec
from autoopt.pipeline._validate import load_config, load_spec, split_params
from autoopt.pipeline._worker import join_study

__all__ = [
    "STAGES",
    "RunResult",
    "run_spec",
    "CompressSpecResult",
    "compress_spec",
    "DistillSpecResult",
    "check_distill_spec",
    "distill_spec",
    "TuneSpecResult",
    "build_trial_model",
    "join_study",
    "load_config",
    "RunConfig",
    "load_spec",
    "make_objective",
    "split_params",
    "tune_spec",
]
