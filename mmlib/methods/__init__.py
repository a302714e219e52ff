"""Every method, baselines included, behind one face (:class:`~mmlib.methods.base.MultimodalMethod`).
Importing a method's module registers it under its command-line name."""
from . import baselines  # noqa: F401  (concat, dropout, transformer)
from . import cmpt  # noqa: F401
from . import dream  # noqa: F401
from . import maps  # noqa: F401  (MGR's prompt baseline)
from . import mce  # noqa: F401
from . import mgr  # noqa: F401
from . import mmin  # noqa: F401  (MCE's Table 5 comparator)
from . import mmp  # noqa: F401  (also transformer_dropout, mmp_lp, mmp_lp_align)
from . import simbamm  # noqa: F401  (the benchmark's simple bar)
from .base import MethodOutput, MultimodalMethod
from .registry import METHODS, make_method, register

__all__ = ["METHODS", "MethodOutput", "MultimodalMethod", "make_method", "register"]
