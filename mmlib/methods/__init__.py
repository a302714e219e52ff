"""Every method, baselines included, behind one face (:class:`~mmlib.methods.base.MultimodalMethod`)."""
from . import baselines  # noqa: F401  (registers concat, dropout, transformer)
from . import dream  # noqa: F401  (registers dream)
from .base import MethodOutput, MultimodalMethod
from .registry import METHODS, make_method, register

__all__ = ["METHODS", "MethodOutput", "MultimodalMethod", "make_method", "register"]
