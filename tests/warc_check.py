"""A check any test can run on the WARC files its crawls wrote: `warcio check` on every one."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def assert_warcs_pass_warcio_check(directory: Path) -> list[Path]:
    """Run the real `warcio check` (every record's WARC-Block-Digest and WARC-Payload-Digest) on
    every WARC file under `directory`; fail the test with its output if any is invalid. Returns the files."""
    files = sorted(Path(directory).glob("*.warc.gz"))
    assert files, f"no WARC files in {directory}"
    result = subprocess.run([sys.executable, "-m", "warcio.cli", "check", "-v", *map(str, files)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f"warcio check failed:\n{result.stdout}\n{result.stderr}"
    assert "digest pass" in result.stdout, result.stdout  # digests were present and checked
    return files
