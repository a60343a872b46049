"""Start-up stays light: aiogram (seconds to import) only when Telegram is on."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

CHECK = """
import sys
from pathlib import Path
from civicline.gateway.app import create_app
from civicline.gateway.cli import app
from civicline.gateway.settings import Settings
create_app(Settings(var_dir=Path(sys.argv[1]), secret_key="test"))
print("aiogram" in sys.modules)
"""


def test_the_gateway_and_the_cli_load_without_aiogram_when_telegram_is_off(
    tmp_path: Path,
) -> None:
    done = subprocess.run(
        [sys.executable, "-c", CHECK, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
        env={"PATH": "/usr/bin:/bin"},
        check=True,
    )
    assert done.stdout.strip() == "False"
