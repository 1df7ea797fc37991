"""Ganeti's OS API (``ganeti-os-interface(7)``, versions 10, 15 and 20) on a node.

* :mod:`corral.osapi.provider`: load and check one provider folder
  (:class:`~corral.osapi.provider.OSProvider`, or an
  :class:`~corral.osapi.provider.InvalidProvider` with its diagnosis);
* :mod:`corral.osapi.search`: find providers in the OS search path and in
  the ``corral.osdefs`` distributions (:class:`~corral.osapi.search.OSSearch`);
* :mod:`corral.osapi.environment`: the scripts' environment, built from
  plain data (:class:`~corral.osapi.environment.OSInstance` and friends);
* :mod:`corral.osapi.runner`: run a script with that environment, its
  output in a per-run log file (:func:`~corral.osapi.runner.run_os_script`,
  :func:`~corral.osapi.runner.run_os_verify`).

``docs/os.md`` describes it for operators and OS authors.
"""

from __future__ import annotations

from corral.osapi.environment import OSDisk
from corral.osapi.environment import OSInstance
from corral.osapi.environment import OSNetwork
from corral.osapi.environment import OSNic
from corral.osapi.environment import action_environment
from corral.osapi.environment import core_environment
from corral.osapi.provider import InvalidProvider
from corral.osapi.provider import OSAction
from corral.osapi.provider import OSParameter
from corral.osapi.provider import OSProvider
from corral.osapi.provider import OSProviderError
from corral.osapi.provider import inspect_provider
from corral.osapi.provider import load_provider
from corral.osapi.provider import split_os_name
from corral.osapi.runner import OSScriptError
from corral.osapi.runner import OSScriptResult
from corral.osapi.runner import run_os_script
from corral.osapi.runner import run_os_verify
from corral.osapi.search import DEFAULT_OS_SEARCH_PATH
from corral.osapi.search import OSSearch

__all__ = [
    "DEFAULT_OS_SEARCH_PATH",
    "InvalidProvider",
    "OSAction",
    "OSDisk",
    "OSInstance",
    "OSNetwork",
    "OSNic",
    "OSParameter",
    "OSProvider",
    "OSProviderError",
    "OSScriptError",
    "OSScriptResult",
    "OSSearch",
    "action_environment",
    "core_environment",
    "inspect_provider",
    "load_provider",
    "run_os_script",
    "run_os_verify",
    "split_os_name",
]
