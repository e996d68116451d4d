"""What /metrics reports about the work every process does (sending workers, sweeps, webhook deliveries),
kept in the database so that any web process on any machine reports the installation's totals."""

from datetime import datetime

from sqlmodel import Field, SQLModel

from app.models.types import LINE_LENGTH, UTCDateTime, utcnow

METRIC_NAME_LENGTH = 100
METRIC_LABELS_LENGTH = 500


class MetricCounter(SQLModel, table=True):
    """A Prometheus counter's value for one set of labels (`labels`: the label pairs as a JSON object with
    sorted keys), added to in the transaction that recorded the work it counts."""

    __tablename__ = "metric_counter"

    name: str = Field(primary_key=True, max_length=METRIC_NAME_LENGTH)
    labels: str = Field(primary_key=True, max_length=METRIC_LABELS_LENGTH)
    value: float = 0.0


class WorkerHeartbeat(SQLModel, table=True):
    """A sending worker's sign of life, renewed every few seconds while it runs; removed when it stops."""

    __tablename__ = "worker_heartbeat"

    worker: str = Field(primary_key=True, max_length=LINE_LENGTH, description="host:pid:random of the worker")
    started_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    seen_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
