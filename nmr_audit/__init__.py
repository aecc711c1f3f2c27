"""nmr-audit: audits CPT 97112 claim lines against the treatment notes that must support them."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("nmr-audit")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+local"
