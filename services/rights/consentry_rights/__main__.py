"""``python -m consentry_rights``: run the rights service."""

from consentry_rights.app import create_app
from consentry_rights.settings import RightsSettings
from consentry_shared.service import configure_logging, serve


def main() -> None:
    settings = RightsSettings()
    configure_logging("rights")
    serve(create_app(settings), host=settings.host, port=settings.port)


if __name__ == "__main__":
    main()
