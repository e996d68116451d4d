"""An import interrupted by a dying process is finished by the next one, with the same report."""

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select, update
from sqlmodel import Session

from app.audience import importer
from app.models import ImportJob, ListMember, utcnow
from app.settings import Settings
from tests.audience.support import make_list


class ProcessDied(BaseException):
    """Not an Exception: like SIGKILL, nothing in the importer gets to record it."""


def _csv(path: Path) -> Path:
    rows = ["email,name"] + [f"user{i % 11000}@example.com,U{i}" for i in range(12_000)] + ["bad@@example.com,B"]
    path.write_text("\n".join(rows) + "\n")
    return path


def test_stalled_import_is_resumed_with_exact_counts(
    engine: Engine, settings: Settings, session: Session, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(importer, "COMMIT_ROWS", importer.BATCH_ROWS)  # a commit after the first batch
    ml = make_list(session, "L")
    upload_dir = Path(settings.upload_dir)
    upload_dir.mkdir(parents=True)
    stored = _csv(upload_dir / "x-upload")
    with Session(engine, expire_on_commit=False) as s:
        job = importer.create_job(s, importer.ImportFile(ml.id, stored, "people.csv"))  # type: ignore[arg-type]
    assert importer.claim(engine, job.id, utcnow())  # type: ignore[arg-type]

    def die_after_first_batch(j: ImportJob) -> None:
        raise ProcessDied

    with pytest.raises(ProcessDied):
        importer.run_import(engine, settings, job.id, die_after_first_batch)  # type: ignore[arg-type]
    with Session(engine) as s:
        half = s.get(ImportJob, job.id)
        assert (half.state, half.rows_read) == ("running", importer.BATCH_ROWS)  # type: ignore[union-attr]
    # a live claim is respected; a stale one is taken over
    assert importer.resume_stalled(engine, settings) == []
    long_ago = utcnow() - timedelta(minutes=10)
    with Session(engine) as s:
        s.execute(update(ImportJob).values(heartbeat_at=long_ago, created_at=long_ago))
        s.commit()
    assert importer.resume_stalled(engine, settings) == [job.id]

    with Session(engine) as s:
        done = s.get(ImportJob, job.id)
        members = s.execute(select(func.count()).select_from(ListMember)).scalar()
    assert done is not None
    assert (done.state, done.rows_read, done.added, done.duplicates, done.invalid) == ("done", 12_001, 11_000, 1_000, 1)
    assert members == 11_000
    assert done.stored_path is None and not stored.exists()  # the upload is removed once imported
