"""``python -m consentry_ledger``: run the ledger service."""

from consentry_ledger.app import create_app
from consentry_ledger.settings import LedgerSettings
from consentry_shared.service import configure_logging, serve


def main() -> None:
    settings = LedgerSettings()
    configure_logging("ledger")
    serve(create_app(settings), host=settings.host, port=settings.port)


if __name__ == "__main__":
    main()
