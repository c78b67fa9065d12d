"""Request and response bodies of the HTTP API (pydantic; they make the OpenAPI schema)."""

from __future__ import annotations

from typing import Any, Literal, Union

from pydantic import BaseModel, Field, SkipValidation
from typing_extensions import TypeAliasType

__all__ = ["ClassPrediction", "ErrorResponse", "HealthResponse", "PredictRequest", "PredictResponse"]

# A sample: a number or a nested list of numbers. Checked by autoopt.serve._validate (which says where a
# value is wrong and what it should be), so pydantic only documents it.
Tensor = TypeAliasType("Tensor", "Union[float, list[Tensor]]")  # type: ignore[misc]


class PredictRequest(BaseModel):
    """A batch of already-preprocessed samples, each a nested list of numbers of the model's input shape."""

    inputs: SkipValidation[list[Tensor]] = Field(  # type: ignore[valid-type]
        description=(
            "A list of samples (always a batch, even of one), each of the per-sample input shape given by "
            "GET /metadata (input.shape without its first, batch, dimension). Values are model-ready floats: "
            "the card's preprocessing (pixel_scale, mean, std) must already be applied. Finite numbers only."
        ),
        examples=[[[[0.0, 0.5], [1.0, -0.5]]]],
    )


class ClassPrediction(BaseModel):
    """The prediction of a classifier for one sample."""

    label: str = Field(
        description="The most probable class's name (class_names of the card, else its index)."
    )
    index: int = Field(description="The most probable class's index.")
    probabilities: list[float] = Field(description="Softmax of the logits, one per class, in class order.")


class PredictResponse(BaseModel):
    """One prediction per sample, in request order."""

    predictions: list[ClassPrediction] | list[Union[float, list[float]]] = Field(
        description="Classifiers: label, index and probabilities. Regressors: one value per sample "
        "(a list when the model has several outputs)."
    )


class HealthResponse(BaseModel):
    """Liveness and readiness."""

    status: Literal["ok"] = "ok"
    model_loaded: bool
    model: str = Field(description="The model's name from the card.")


class ErrorResponse(BaseModel):
    """Every 4xx answer: a one-line summary and each problem found (expected vs got)."""

    detail: str = Field(description="One line: what was expected and what was got.")
    errors: list[str] = Field(
        default_factory=list, description="Each problem, with its path (e.g. inputs[0][3])."
    )


Metadata = dict[str, Any]
