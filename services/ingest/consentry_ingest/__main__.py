"""``python -m consentry_ingest``: run the ingest service."""

from consentry_ingest.app import create_app
from consentry_ingest.settings import IngestSettings
from consentry_shared.service import configure_logging, serve


def main() -> None:
    settings = IngestSettings()
    configure_logging("ingest")
    serve(create_app(settings), host=settings.host, port=settings.port)


if __name__ == "__main__":
    main()
