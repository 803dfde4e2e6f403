"""The real translation sets (facades, horse2zebra): found offline, or downloaded on request.

Tiny archives with the published layouts are served by a local HTTP server that
$GENLAB_TRANSLATION_URL points at; nothing here needs the internet."""
import http.server
import io
import re
import socket
import tarfile
import threading
import zipfile
from functools import partial
from pathlib import Path

import pytest
import torch
from PIL import Image

from genlab.cli import main as genlab_main
from genlab.data import DataNotFoundError, facades, horse2zebra, idx, translation

# Facades: each image k has a flat photo (left) of red 20 k and a flat label map (right) of
# blue 20 k, so the halves and the file order can be read back from the pixels.
FACADE_NAMES = {"train": [1, 2, 10], "val": [1, 2], "test": [1, 2]}
HORSE_ZEBRA_COUNTS = {"trainA": 3, "trainB": 4, "testA": 2, "testB": 1}


def _jpeg(colour: tuple[int, int, int], width: int, height: int, right=None) -> bytes:
    image = Image.new("RGB", (width, height), colour)
    if right is not None:
        image.paste(right, (width // 2, 0, width, height))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=95)
    return buffer.getvalue()


def _facade_files(folders=("train", "val", "test")) -> dict[str, bytes]:
    return {f"facades/{split}/{k}.jpg": _jpeg((20 * k, 60, 0), 512, 256, right=(0, 60, 20 * k))
            for split in folders for k in FACADE_NAMES[split]}


def _horse_zebra_files() -> dict[str, bytes]:
    """Horses (A) are all brown; zebra i (B) is grey 30 i."""
    return {f"horse2zebra/{folder}/n0{i}.jpg":
            _jpeg((120, 80, 40) if folder.endswith("A") else (30 * i,) * 3, 256, 256)
            for folder, n in HORSE_ZEBRA_COUNTS.items() for i in range(1, n + 1)}


def _tar_gz(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _zip(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return buffer.getvalue()


class _Handler(http.server.SimpleHTTPRequestHandler):
    """Serves the files of ``directory``; with ``server.cut_short`` it promises the whole file
    (Content-Length) but sends half of it and closes the connection."""

    def log_message(self, *args) -> None:
        pass

    def do_GET(self) -> None:
        self.server.requests.append(self.path)
        if not self.server.cut_short:
            return super().do_GET()
        body = (Path(self.directory) / self.path.lstrip("/")).read_bytes()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body[: len(body) // 2])


@pytest.fixture
def cache(tmp_path, fresh_env):
    """An empty cache in place of data/cache, no GENLAB_DATA, no proxy for 127.0.0.1."""
    fresh_env.setattr(idx, "CACHE_DIR", tmp_path / "cache")
    fresh_env.setenv("no_proxy", "127.0.0.1")
    return tmp_path / "cache"


@pytest.fixture
def server(tmp_path, cache, fresh_env):
    """A local HTTP server holding both archives at their published paths; the env var
    GENLAB_TRANSLATION_URL points at it."""
    www = tmp_path / "www"
    (www / "pix2pix/datasets").mkdir(parents=True)
    (www / "cyclegan/datasets").mkdir(parents=True)
    (www / "pix2pix/datasets/facades.tar.gz").write_bytes(_tar_gz(_facade_files()))
    (www / "cyclegan/datasets/horse2zebra.zip").write_bytes(_zip(_horse_zebra_files()))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), partial(_Handler, directory=str(www)))
    httpd.daemon_threads = True
    httpd.requests, httpd.cut_short, httpd.www = [], False, www
    thread = threading.Thread(target=httpd.serve_forever, kwargs=dict(poll_interval=0.05), daemon=True)
    thread.start()
    fresh_env.setenv(translation.URL_VARIABLE, f"http://127.0.0.1:{httpd.server_address[1]}")
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def _leftovers(cache: Path) -> list[str]:
    """Everything in the cache, hidden temporary folders and .part files included."""
    return sorted(str(p.relative_to(cache)) for p in cache.rglob("*")) if cache.exists() else []


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_facades_download_fetches_unpacks_and_splits_the_halves(server, cache, capsys):
    inputs, targets = facades("train", size=16, download=True)
    assert server.requests == ["/pix2pix/datasets/facades.tar.gz"]
    assert inputs.shape == targets.shape == (3, 3, 16, 16)
    assert inputs.dtype == targets.dtype == torch.float32
    assert 0 <= min(inputs.min(), targets.min()) and max(inputs.max(), targets.max()) <= 1
    k = torch.tensor(FACADE_NAMES["train"], dtype=torch.float32)          # 1.jpg, 2.jpg, 10.jpg in that order
    # input = the right half (label map, blue 20 k), target = the left half (photo, red 20 k)
    assert torch.allclose(inputs[:, 2].mean((1, 2)), 20 * k / 255, atol=0.02)
    assert torch.allclose(targets[:, 0].mean((1, 2)), 20 * k / 255, atol=0.02)
    assert inputs[:, 0].max() < 0.05 and targets[:, 2].max() < 0.05, "a half leaks into the other"
    assert "a download of" in capsys.readouterr().out
    # the cache holds the extracted folder only: no archive, no .part file, no temporary folder
    assert (cache / "facades/train/10.jpg").is_file()
    assert not [p for p in _leftovers(cache) if not p.startswith("facades")]


def test_facades_size_limit_and_splits(server, cache):
    x, y = facades("val", size=8, limit=1, download=True, verbose=False)
    assert x.shape == y.shape == (1, 3, 8, 8)
    assert len(facades("test", download=True, verbose=False)[0]) == len(FACADE_NAMES["test"])
    x, _ = facades("train", size=32, limit=2, verbose=False)
    assert x.shape == (2, 3, 32, 32)
    assert torch.allclose(x[:, 2].mean((1, 2)), torch.tensor([20.0, 40.0]) / 255, atol=0.02)


def test_second_call_uses_the_cache_without_the_server(server, cache, fresh_env, capsys):
    first = facades("train", size=16, download=True, verbose=False)
    fresh_env.setenv(translation.URL_VARIABLE, f"http://127.0.0.1:{_closed_port()}")   # the server is gone
    for download in (False, True):
        again = facades("train", size=16, download=download)
        assert torch.equal(again[0], first[0]) and torch.equal(again[1], first[1])
        assert f"from cache {cache}" in capsys.readouterr().out
    assert len(server.requests) == 1
    assert translation.available("facades") and not translation.available("horse2zebra")


def test_horse2zebra_is_unpaired_with_its_own_lengths(server, cache):
    a, b = horse2zebra("train", size=16, download=True, verbose=False)
    assert server.requests == ["/cyclegan/datasets/horse2zebra.zip"]
    assert a.shape == (3, 3, 16, 16) and b.shape == (4, 3, 16, 16) and a.dtype == torch.float32
    horse, zebras = torch.tensor([120, 80, 40]) / 255, 30 * torch.arange(1.0, 5.0) / 255
    assert torch.allclose(a.mean((2, 3)), horse, atol=0.02)            # A: horses
    assert torch.allclose(b.mean((1, 2, 3)), zebras, atol=0.02)        # B: zebras, in file order
    a, b = horse2zebra("test", size=8, verbose=False)
    assert a.shape == (2, 3, 8, 8) and b.shape == (1, 3, 8, 8)
    a, b = horse2zebra("train", size=8, limit=2, verbose=False)
    assert len(a) == len(b) == 2


def test_missing_set_says_how_to_get_it_and_writes_nothing(cache):
    for load, name in ((facades, "facades"), (horse2zebra, "horse2zebra")):
        with pytest.raises(DataNotFoundError) as info:
            load(verbose=False)
        text = str(info.value)
        assert "not found offline" in text and "GENLAB_DATA" in text and str(cache) in text
        assert f"genlab data {name} --download" in text and f"{name}/" in text
        assert "procedural" in text and "OpenMoji" in text, "the message names the offline stand-ins"
    assert not cache.exists(), "a failed lookup must not write anything"


def test_explicit_directory_holding_or_being_the_folder(tmp_path, cache, fresh_env):
    data = tmp_path / "mine"
    for name, blob in _facade_files().items():
        (data / name).parent.mkdir(parents=True, exist_ok=True)
        (data / name).write_bytes(blob)
    fresh_env.setenv("GENLAB_DATA", str(data))
    x, _ = facades("val", size=8, verbose=False)
    assert x.shape == (2, 3, 8, 8)
    fresh_env.delenv("GENLAB_DATA")
    label, folder = translation.locate("facades", root=data / "facades")
    assert folder == data / "facades" and "directory" in label
    (data / "facades/val/1.jpg").unlink()
    (data / "facades/val/2.jpg").unlink()
    with pytest.raises(DataNotFoundError, match=r"lacks val/"):
        facades("val", root=data, verbose=False)


def test_unreadable_or_misshapen_images_are_named(tmp_path, cache):
    data = tmp_path / "mine"
    for name, blob in _facade_files().items():
        (data / name).parent.mkdir(parents=True, exist_ok=True)
        (data / name).write_bytes(blob)
    (data / "facades/test/2.jpg").write_bytes(_jpeg((0, 0, 0), 256, 256))
    with pytest.raises(DataNotFoundError, match=r"test/2\.jpg is 256×256"):
        facades("test", root=data, verbose=False)
    (data / "facades/test/2.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(DataNotFoundError, match=r"test/2\.jpg is not a readable JPEG"):
        facades("test", root=data, verbose=False)


def test_404_raises_a_clear_error_and_leaves_nothing(server, cache):
    (server.www / "pix2pix/datasets/facades.tar.gz").unlink()
    with pytest.raises(DataNotFoundError) as info:
        facades(download=True, verbose=False)
    text = str(info.value)
    assert "could not be downloaded from http://127.0.0.1" in text and "404" in text
    assert "GENLAB_DATA" in text
    assert _leftovers(cache) == []


def test_offline_download_raises_a_clear_error(cache, fresh_env):
    fresh_env.setenv(translation.URL_VARIABLE, f"http://127.0.0.1:{_closed_port()}")
    with pytest.raises(DataNotFoundError, match="horse2zebra could not be downloaded"):
        horse2zebra(download=True, verbose=False)
    assert _leftovers(cache) == []


def test_connection_closed_early_leaves_no_complete_looking_file(server, cache):
    server.cut_short = True
    with pytest.raises(DataNotFoundError, match=r"could not be downloaded .*closed after"):
        facades(download=True, verbose=False)
    assert _leftovers(cache) == []


@pytest.mark.parametrize("name, blob", [
    ("pix2pix/datasets/facades.tar.gz", lambda: _tar_gz(_facade_files())[:500]),      # cut in a JPEG
    ("pix2pix/datasets/facades.tar.gz", lambda: _tar_gz(_facade_files())[:-6]),       # cut in gzip's trailer
    ("pix2pix/datasets/facades.tar.gz", lambda: b"<html>Service unavailable</html>"),
    ("cyclegan/datasets/horse2zebra.zip", lambda: _zip(_horse_zebra_files())[:-100]),
])
def test_corrupt_archive_is_named_and_deleted(server, cache, name, blob):
    (server.www / name).write_bytes(blob())
    load, title = (facades, "CMP Facades") if "facades" in name else (horse2zebra, "horse2zebra")
    message = f"{Path(name).name} is not a readable {title} archive"
    with pytest.raises(DataNotFoundError, match=re.escape(message)):
        load(download=True, verbose=False)
    assert _leftovers(cache) == []


def test_unexpected_layout_is_named(server, cache):
    (server.www / "pix2pix/datasets/facades.tar.gz").write_bytes(_tar_gz(_facade_files(("train",))))
    with pytest.raises(DataNotFoundError, match=r"facades\.tar\.gz does not have the published layout.*"
                                                 r"lacks val/, test/"):
        facades(download=True, verbose=False)
    assert _leftovers(cache) == []


@pytest.mark.parametrize("kwargs, message", [
    (dict(split="validation"), "split must be one of"),
    (dict(split="val", dataset=horse2zebra), "split must be one of"),
    (dict(size=0), "size must be positive"),
    (dict(limit=0), "limit must be positive"),
])
def test_bad_arguments(cache, kwargs, message):
    load = kwargs.pop("dataset", facades)
    with pytest.raises(ValueError, match=message):
        load(**kwargs, verbose=False)


def test_genlab_data_lists_them_and_downloads_on_request(server, cache, capsys):
    assert genlab_main(["data"]) == 0, "optional sets that are missing do not fail `genlab data`"
    rows = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()}
    for name in ("facades", "horse2zebra"):
        assert "missing" in rows[name] and f"genlab data {name} --download" in rows[name]
    assert genlab_main(["data", "facades"]) == 1
    out = capsys.readouterr().out
    assert "missing" in out and "not found offline" in out and "genlab data facades --download" in out
    assert genlab_main(["data", "facades", "--download"]) == 0
    out = capsys.readouterr().out
    assert "facades" in out and "ok" in out and "a download of" in out
    assert genlab_main(["data", "facades"]) == 0 and f"cache {cache}" in capsys.readouterr().out
    assert server.requests == ["/pix2pix/datasets/facades.tar.gz"]
