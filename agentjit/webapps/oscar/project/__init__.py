"""The Django project of the bench shop; run with `project/` on PYTHONPATH as `bench_shop`."""
