"""The static files' storage in production: WhiteNoise's compressed manifest storage, with each file's
URL worked out once per process."""

from whitenoise.storage import CompressedManifestStaticFilesStorage


class ManifestStaticStorage(CompressedManifestStaticFilesStorage):
    """Every participant page names the same files (study.css, study.js), and looking a hashed name up
    in the manifest took 36 microseconds each time: a quarter of rendering a short page. The manifest is
    read when the storage is made and does not change while the process runs (collectstatic writes it
    before the server starts), so the URLs are kept."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self._urls: dict[str, str] = {}

    def url(self, name: str | None, force: bool = False) -> str:
        if name is None or force:
            return super().url(name, force)
        found = self._urls.get(name)
        if found is None:
            found = self._urls[name] = super().url(name)
        return found
