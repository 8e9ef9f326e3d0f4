"""crcsim: a discrete-event simulator of stage IV rectal cancer treatment pathways.

Data flows one way: scenario -> population -> simulation -> event log -> outcomes -> reports.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("crcsim")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"
