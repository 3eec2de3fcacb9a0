from __future__ import annotations

from mailflow.cli.main import main

main()
