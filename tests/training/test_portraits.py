"""benchmarks/portraits.py: the registry portraits are taken only when they are the expected photos."""

import hashlib
import io
import tarfile

from tests.support.benchmarks import load_benchmark


def _archive(path, files: dict[str, bytes], folder: str) -> None:
    with tarfile.open(path, "w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(folder + name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def test_only_photos_with_the_expected_hash_are_extracted_and_kept(tmp_path, monkeypatch):
    m = load_benchmark("portraits")
    good, other = b"a portrait", b"something else"
    monkeypatch.setattr(m, "REGISTRY_PHOTOS", {"a.jpg": hashlib.sha256(good).hexdigest(),
                                               "b.jpg": hashlib.sha256(good + b"!").hexdigest(),
                                               "c.jpg": hashlib.sha256(good).hexdigest()})
    archive = tmp_path / "face_recognition-1.3.0.tar.gz"
    _archive(archive, {"a.jpg": good, "b.jpg": other}, m.REGISTRY_FOLDER)  # c.jpg missing from the archive
    folder = tmp_path / "portraits"
    assert m.extract_registry_photos(archive, folder) == [folder / "a.jpg"]
    assert sorted(p.name for p in folder.iterdir()) == ["a.jpg"]  # no wrong photo, no partial file
    (folder / "c.jpg").write_bytes(other)  # a cached file that was changed is not used
    assert m.registry_portraits(folder, fetch=False) == [folder / "a.jpg"]


def test_the_sample_comes_first_and_nothing_is_downloaded_without_fetch(tmp_path, monkeypatch):
    m = load_benchmark("portraits")
    monkeypatch.setattr(m, "CACHE", tmp_path)
    monkeypatch.setattr(m.subprocess, "run", lambda *a, **k: (_ for _ in ()).throw(AssertionError("downloaded")))
    portraits = m.public_domain_portraits(fetch=False)
    assert portraits[0] == m.SAMPLE and m.SAMPLE.is_file()
    assert not any(p.parent == tmp_path for p in portraits)


def test_a_failed_download_says_why_and_leaves_the_portraits_out(tmp_path, monkeypatch, capsys):
    m = load_benchmark("portraits")
    failed = type("Done", (), {"returncode": 1, "stderr": "ERROR: No matching distribution found\n"})()
    monkeypatch.setattr(m.subprocess, "run", lambda *a, **k: failed)
    assert m.registry_portraits(tmp_path, fetch=True) == []
    assert "left out (ERROR: No matching distribution found)" in capsys.readouterr().out
