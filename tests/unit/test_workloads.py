from pathlib import Path

import pytest

from profiler import workloads
from profiler.errors import UsageError

FIXTURES = Path(__file__).parents[1] / "fixtures"


def test_catalogue_has_at_least_eight_described_workloads():
    items = workloads.catalogue()
    assert len(items) >= 8
    assert all(w.description for w in items), [w.name for w in items if not w.description]
    assert "_common" not in {w.name for w in items}
    assert [w.name for w in items] == sorted(w.name for w in items)


def test_catalogue_covers_the_parts_of_spark_the_issue_names():
    names = {w.name for w in workloads.catalogue()}
    assert {
        "sql_aggregation",
        "rdd_python",
        "pandas_udf",
        "parquet_csv_io",
        "ml_pipeline",
        "streaming_checkpoint",
        "spill_to_disk",
        "local_cluster",
    } <= names


def test_resolve_accepts_a_user_script_path():
    script = FIXTURES / "scripts" / "tiny_job.py"
    workload = workloads.resolve(str(script))
    assert workload.name == "tiny_job"
    assert not workload.in_catalogue
    assert workload.path == script.resolve()


def test_unknown_name_is_a_usage_error_with_a_hint():
    with pytest.raises(UsageError) as info:
        workloads.resolve("no_such_job")
    assert "workloads list" in info.value.diagnostics()


def test_missing_script_is_a_usage_error():
    with pytest.raises(UsageError, match="does not exist"):
        workloads.resolve("/nonexistent/job.py")


def test_duplicate_workloads_are_refused():
    with pytest.raises(UsageError, match="twice"):
        workloads.resolve_all(["rdd_python", "rdd_python"])


def test_result_line_is_the_last_json_line_with_a_workload():
    stdout = 'noise\n{"workload": "a", "checksum": "1", "job_seconds": 2.5}\n{"other": 1}\nbye\n'
    result = workloads.parse_result_line(stdout)
    assert result == workloads.WorkloadResult("a", "1", 2.5)


def test_no_result_line_gives_none():
    assert workloads.parse_result_line("{not json}\nplain text\n") is None
