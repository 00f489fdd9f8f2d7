"""Why a JavaScript component cannot be built on this machine, for the
tests that build one (tests/test_component_conformance.py,
tests/test_component_ringpath_js.py) to skip with that reason."""

from __future__ import annotations

import shutil

from nanonet.toolchain.build import BuildError
from nanonet.toolchain.guestbuild import node_modules


def javascript_missing() -> str | None:
    """What is missing (node, or jco's node_modules), or None if nothing is."""
    if shutil.which("node") is None:
        return "node is not installed"
    try:
        node_modules()
    except BuildError as err:
        return str(err)
    return None
