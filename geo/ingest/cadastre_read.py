"""Reading an Etalab cadastre GeoJSON file in Arrow batches, ahead of its checking and
writing (geo.ingest.cadastre): one GDAL reader, or for a large one-feature-per-line file,
chunks read by several readers at once, each in its own thread."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyogrio
from pyogrio.errors import DataSourceError, FieldError
from pyproj import CRS

from geo.crs import WGS84
from geo.ingest import chunks
from geo.ingest.common import gdal_path
from geo.ingest.errors import LoaderError

REQUIRED_FIELDS = ("id", "section", "numero")


def in_background(items: Iterator, depth: int = 2) -> Iterator:
    """Run an iterator in a worker thread, ``depth`` items ahead of the consumer.

    GDAL reading, shapely and pyproj release the GIL, so parsing and projecting the
    next batch overlaps with COPYing the current one (and with the server's work).
    """
    done = object()
    handoff: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def work() -> None:
        try:
            for item in items:
                if stop.is_set():
                    return
                handoff.put(item)
        except BaseException as exc:  # handed to the consumer, raised there
            handoff.put(exc)
            return
        handoff.put(done)

    worker = threading.Thread(target=work, name="cadastre-reader", daemon=True)
    worker.start()
    try:
        while (item := handoff.get()) is not done:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while worker.is_alive():  # unblock a worker waiting on a full queue
            try:
                handoff.get_nowait()
            except queue.Empty:
                worker.join(timeout=0.05)


def read_batches(
    path: Path, batch_size: int, source_crs: CRS | None, readers: int
) -> Iterator[tuple[pa.RecordBatch, CRS, int]]:
    """(Arrow batch, CRS of its geometries, index of its first feature), read ahead."""
    if readers == 1:
        return in_background(read_file(path, path, batch_size, source_crs, 0))
    return _read_chunks(path, batch_size, source_crs, readers)


def _read_chunks(
    path: Path, batch_size: int, source_crs: CRS | None, readers: int
) -> Iterator[tuple[pa.RecordBatch, CRS, int]]:
    """Split the file into chunks (one thread) read by ``readers`` GDAL readers (threads)."""
    stop = threading.Event()
    chunk_queue: queue.Queue = queue.Queue(maxsize=readers)
    out: queue.Queue = queue.Queue(maxsize=readers)
    finished = object()

    def put(q: queue.Queue, item: object) -> bool:
        while not stop.is_set():
            try:
                q.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def get(q: queue.Queue) -> object:
        while not stop.is_set():
            try:
                return q.get(timeout=0.1)
            except queue.Empty:
                continue
        return None

    with chunks.chunk_directory() as tmp:

        def split() -> None:
            try:
                for chunk in chunks.split(path, tmp):
                    if not put(chunk_queue, chunk):
                        return
            except BaseException as exc:  # handed to the consumer, raised there
                put(out, exc)
            finally:
                for _ in range(readers):
                    put(chunk_queue, None)

        def read() -> None:
            try:
                while isinstance(chunk := get(chunk_queue), chunks.Chunk):
                    try:
                        for item in read_file(
                            chunk.path, path, batch_size, source_crs, chunk.first_feature
                        ):
                            if not put(out, item):
                                return
                    except LoaderError as exc:
                        if isinstance(exc.__cause__, DataSourceError | FieldError):
                            # Lines that are not whole features make unreadable chunks:
                            # the file is read whole instead, which names the real problem.
                            raise chunks.NotLineDelimited(str(exc)) from exc
                        raise
                    chunk.path.unlink()
            except BaseException as exc:
                put(out, exc)
            finally:
                put(out, finished)

        threads = [threading.Thread(target=split, name="cadastre-split", daemon=True)]
        threads += [
            threading.Thread(target=read, name=f"cadastre-read-{i}", daemon=True)
            for i in range(readers)
        ]
        for thread in threads:
            thread.start()
        try:
            done = 0
            while done < readers:
                item = out.get()
                if item is finished:
                    done += 1
                elif isinstance(item, BaseException):
                    raise item
                else:
                    yield item
        finally:
            stop.set()
            for thread in threads:
                thread.join()


def read_file(
    gdal_file: Path, path: Path, batch_size: int, source_crs: CRS | None, first_feature: int
) -> Iterator[tuple[pa.RecordBatch, CRS, int]]:
    """Stream one GeoJSON file with GDAL; ``path`` (the user's file) names it in errors."""
    try:
        with pyogrio.open_arrow(gdal_path(gdal_file), batch_size=batch_size, use_pyarrow=True) as (
            meta,
            reader,
        ):
            if len(meta["fields"]) == 0:
                raise LoaderError(f"{path}: the file holds no feature with properties")
            missing = [f for f in REQUIRED_FIELDS if f not in meta["fields"]]
            if missing:
                raise LoaderError(
                    f"{path}: missing propert{'y' if len(missing) == 1 else 'ies'} "
                    f"{', '.join(missing)}: not an Etalab cadastre parcel file"
                )
            crs = source_crs or (CRS.from_user_input(meta["crs"]) if meta["crs"] else None)
            crs = crs or CRS.from_epsg(WGS84)
            offset = first_feature
            for batch in reader:
                yield batch, crs, offset
                offset += batch.num_rows
    except (DataSourceError, FieldError, OSError, pa.ArrowException) as exc:
        raise LoaderError(f"{path}: not a readable GeoJSON file ({_first_line(exc)})") from exc


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
