import sys

import pytest

from nmr_audit.io.reference_home import HOME_VARIABLE, nmr_audit_home, reference_home


def test_the_home_is_nmr_audit_home(tmp_path, monkeypatch):
    monkeypatch.setenv(HOME_VARIABLE, str(tmp_path / "h"))
    assert reference_home() == tmp_path / "h" / "reference"


@pytest.mark.skipif(sys.platform != "linux", reason="the XDG rules are Linux's")
def test_else_the_platform_user_data_folder(tmp_path, monkeypatch):
    monkeypatch.delenv(HOME_VARIABLE)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert nmr_audit_home() == tmp_path / "xdg" / "nmr-audit"
