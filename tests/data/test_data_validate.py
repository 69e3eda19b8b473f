"""validate-data: every reference runs through the real local sandbox; failures are classified per set."""

from __future__ import annotations

import json

from coderl import cli
from coderl.data.build import BuildContext, build_dataset
from fixtures.codecontests_parquet import row, write_split


def test_validate_data_reports_broken_references(tmp_path, capsys):
    good = row("1_A. Sum", public=[("1 2\n", "3\n")], private=[("40 2\n", "42\n")])
    broken = row("2_B. Wrong expected output", public=[("1 2\n", "3\n"), ("2 2\n", "5\n")])  # reference prints 4
    noref = row("3_C. C++ only", languages=(2,))
    write_split(tmp_path / "snap", "valid", [good, broken, noref])
    ctx = BuildContext(
        raw_dir=tmp_path / "raw", manifests_dir=tmp_path / "man", cache_dir=tmp_path / "c", source_dir=tmp_path / "snap"
    )
    build_dataset(
        "codecontests_valid", {"kind": "stdio", "size": 3, "source": {"loader": "codecontests", "split": "valid"}}, ctx
    )
    out = tmp_path / "report.json"
    rc = cli.main(
        [
            "validate-data",
            "--datasets",
            "codecontests_valid",
            "--raw-dir",
            str(tmp_path / "raw"),
            "--manifests-dir",
            str(tmp_path / "man"),
            "--out",
            str(out),
            "--workers",
            "1",
            "--strict",
        ]
    )
    d = json.loads(out.read_text())["datasets"]["codecontests_valid"]
    assert rc == 1  # --strict: a reference failed
    assert (d["problems"], d["with_reference"], d["no_reference"], d["reference_accepted"]) == (3, 2, 1, 1)
    [f] = d["failures"]
    assert f["id"] == "2_B. Wrong expected output" and f["verdict"] == "wrong_answer" and f["first_failed_test"] == 1
    assert f["recheck_verdict"] == "wrong_answer" and d["by_class"] == {"wrong_answer": 1}
    assert "codecontests_valid" in capsys.readouterr().out
