"""mmlib: a thin library for robust multimodal learning with missing modalities.

Modules: ``data`` (datasets and the data contract), ``missing`` (protocols), ``shapley``, ``nn`` (encoders and
blocks), ``methods``, ``train``, ``evaluate``, ``experiment``, ``plots``. See DESIGN.md.
"""
__version__ = "0.1.0"
