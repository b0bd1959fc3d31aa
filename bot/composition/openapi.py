"""Generate the OpenAPI document from the app: ``python -m bot.composition.openapi > docs/openapi.json``.

The builder is ``handlers.openapi`` (the HTTP layer describes its own routes); this is
only the entry point that assembles an offline app and prints the document.
"""

from __future__ import annotations

from bot.composition.app import create_app
from bot.settings import Settings
from handlers.openapi import build, render


def main() -> None:
    # Defaults without reading the environment: the document must not depend on this machine.
    app = create_app(Settings.model_construct())
    print(render(build(app)), end="")


if __name__ == "__main__":
    main()
