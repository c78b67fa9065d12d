"""Search spaces: float, int, categorical, fixed and conditional parameters; YAML or Python.

Example:
    >>> from autoopt.space import Space
    >>> space = Space.from_dict({"lr": {"low": 1e-4, "high": 1e-1, "log": True}, "layers": [1, 2, 3]})
    >>> space.names
    ['lr', 'layers']
"""

from autoopt.space._params import Categorical, Fixed, Float, Int, Param
from autoopt.space._space import Space

__all__ = ["Space", "Float", "Int", "Categorical", "Fixed", "Param"]
