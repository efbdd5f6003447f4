"""What the browser tests share: Debian's Chromium (bin/setup-system.sh installs it), driven by
Playwright; a test is skipped, not failed, on a machine without it."""

from __future__ import annotations

import os
import shutil

import pytest


@pytest.fixture
def chromium() -> str:
    path = shutil.which("chromium") or "/usr/bin/chromium"
    if not os.path.exists(path):
        pytest.skip("no chromium")
    return path
