"""What a deployer command loads before its first call: versions read without importlib.metadata."""

from __future__ import annotations

from importlib import metadata

import pytest

from deployer import emulator


@pytest.mark.parametrize("name", ["moto", "boto3", "botocore", "jinja2"])
def test_installed_versions_are_what_importlib_metadata_says(name):
    assert emulator._installed_version(name) == metadata.version(name)


def test_a_missing_package_has_no_version():
    assert emulator._installed_version("no_such_package_here") is None


def test_a_package_without_a_dist_info_folder_beside_it_asks_importlib_metadata(monkeypatch):
    monkeypatch.setattr(emulator.os, "listdir", lambda folder: [])
    assert emulator._installed_version("moto") == metadata.version("moto")
