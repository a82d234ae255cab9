"""The tracking loader of swapscope's import hook, loaded as ``_swapscope_loader``.

Its code is compiled under the file name of CPython's own import machinery,
``<frozen importlib._bootstrap_external>``: ``exec_module`` is on the stack while every tracked
module's body runs, and under that name it is skipped like the rest of importlib — by
``warnings`` (a ``stacklevel=2`` warning raised at import points at the importing code), and by
the traceback clean-up of an import that fails. A ``SourceFileLoader`` subclass keeps
``isinstance`` checks working.
"""

import sys
from importlib.machinery import SourceFileLoader


class TrackingLoader(SourceFileLoader):
    """The normal source loader (``.pyc`` cache and all), which then tells swapscope."""

    _swapscope_record = None

    def exec_module(self, module):
        super().exec_module(module)
        record = self._swapscope_record
        if record is not None:
            # Tracking must never break an import: the recorder reports its own failures.
            try:
                record(module)
            except Exception as exc:  # noqa: BLE001
                print(f"swapscope: could not track {module.__name__!r}: {exc}", file=sys.stderr)
