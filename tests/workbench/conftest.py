from tests.workbench.test_app import astronaut_file, workbench_url  # noqa: F401  (shared by the browser tests)
